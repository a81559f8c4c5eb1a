import { z } from 'zod';
import { EVENT_TYPES } from '../lib/events.js';
import './schemas.js';

/** The shapes of events, webhook endpoints and their deliveries (docs/webhooks.md). */

const EventTypeSchema = z.string().refine((t) => EVENT_TYPES.includes(t), {
  message: `must be one of ${EVENT_TYPES.join(', ')}`,
});

const csvOfEventTypes = z
  .string()
  .max(2000)
  .transform((s) => s.split(',').map((t) => t.trim()))
  .pipe(z.array(EventTypeSchema).min(1).max(50));

export const EventListQuery = z
  .object({
    type: csvOfEventTypes
      .optional()
      .meta({ description: 'Event types, comma-separated (`payin.succeeded,payin.failed`)' }),
    resource_id: z
      .string()
      .max(64)
      .optional()
      .meta({ description: 'Only events about this payin, payout, refund or transfer' }),
    created_after: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional().meta({ description: '`next_cursor` of the previous page' }),
  })
  .strict();

export const EventSchema = z
  .object({
    id: z.string().meta({ example: 'evt_2b4d6f8h2j4l6n8p3r5t7v2x' }),
    object: z.literal('event'),
    type: z.string().meta({ example: 'payin.succeeded' }),
    livemode: z
      .boolean()
      .nullable()
      .meta({ description: 'The mode of its resource (null: an operations event)' }),
    api_version: z.string().meta({ example: '2026-12-01' }),
    created_at: z.string(),
    timestamp: z.string().meta({ description: 'Same as created_at (the Standard Webhooks payload field)' }),
    resource: z.object({ type: z.string(), id: z.string() }),
    data: z.record(z.string(), z.unknown()).meta({
      description:
        'The resource (payin, payout, refund, transfer, webhook endpoint) as the API showed it then',
    }),
  })
  .meta({ id: 'Event' });

export const EventListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(EventSchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'EventList' });

const endpointUrl = z.string().min(1).max(2048).meta({ example: 'https://shop.example/webhooks/passerelle' });
const eventTypes = z
  .array(z.union([z.literal('*'), EventTypeSchema]))
  .min(1)
  .max(100)
  .meta({ description: 'Event types to receive; `["*"]` (the default) for all' });
// eslint-disable-next-line no-control-regex
const NO_CONTROL = /[\u0000-\u001f\u007f]/;
const description = z
  .string()
  .max(500)
  .refine((v) => !NO_CONTROL.test(v), 'must not contain control characters');

export const CreateWebhookEndpointRequest = z
  .object({
    url: endpointUrl,
    event_types: eventTypes.default(['*']),
    description: description.optional(),
    enabled: z.boolean().default(true),
  })
  .strict()
  .meta({ id: 'CreateWebhookEndpointRequest' });

export const UpdateWebhookEndpointRequest = z
  .object({
    url: endpointUrl.optional(),
    event_types: eventTypes.optional(),
    description: description.nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .meta({ id: 'UpdateWebhookEndpointRequest' });

export const RotateSecretRequest = z
  .object({
    grace_period_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .default(86_400)
      .meta({ description: 'How long the previous secret keeps signing (default 24 h, at most 7 days)' }),
  })
  .strict()
  .meta({ id: 'RotateSecretRequest' });

export const ReplayRequest = z
  .object({
    since: z.iso
      .datetime({ offset: true })
      .meta({ description: 'Re-send every event created at or after this time' }),
    until: z.iso.datetime({ offset: true }).optional(),
  })
  .strict()
  .meta({ id: 'ReplayRequest' });

export const ResendRequest = z
  .object({
    endpoint_id: z
      .string()
      .max(64)
      .optional()
      .meta({ description: 'Only to this endpoint (default: every enabled endpoint that wants the event)' }),
  })
  .strict()
  .meta({ id: 'ResendRequest' });

export const WebhookEndpointSchema = z
  .object({
    id: z.string().meta({ example: 'we_5c7e2g4i6k8m2o4q6s8u3w5y' }),
    object: z.literal('webhook_endpoint'),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable(),
    livemode: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
    secret: z
      .string()
      .optional()
      .meta({ description: 'The signing secret (whsec_...): only in the answer that created or rotated it' }),
  })
  .meta({ id: 'WebhookEndpoint' });

export const DeliveryListQuery = z
  .object({
    status: z.enum(['pending', 'succeeded', 'failed', 'cancelled']).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const DeliverySchema = z
  .object({
    id: z.string(),
    object: z.literal('webhook_delivery'),
    event_id: z.string(),
    event_type: z.string(),
    endpoint_id: z.string(),
    reason: z.enum(['event', 'resend', 'replay']),
    status: z.enum(['pending', 'succeeded', 'failed', 'cancelled']),
    attempt_count: z.number().int(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    created_at: z.string(),
    completed_at: z.string().nullable(),
    attempts: z.array(
      z.object({
        attempt: z.number().int(),
        attempted_at: z.string(),
        http_status: z.number().int().nullable(),
        latency_ms: z.number().int(),
        response_body: z.string().nullable().meta({ description: 'The first 1 kB of the answer' }),
        error: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'WebhookDelivery' });

export const DeliveryListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(DeliverySchema),
    has_more: z.boolean(),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'WebhookDeliveryList' });
