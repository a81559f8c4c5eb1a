import express, { type Express, type Router } from 'express';
import type { Logger } from 'pino';
import { OPERATORS, type OperatorName } from '../lib/operators.js';
import type { SandboxConfig } from './config.js';
import { ligdicashSandbox } from './ligdicash/router.js';
import { mtnSandbox } from './mtn/router.js';
import { orangeSandbox } from './orange/router.js';
import { paygateSandbox } from './paygate/router.js';
import { processorSandbox, type ProcessorSandbox } from './processor/router.js';
import { tmoneySandbox } from './tmoney/router.js';

/** A simulator: its routes (mounted at `/<operator>`), its records, and what the index page lists. */
type Simulator = (
  config: SandboxConfig,
  logger: Logger,
) => { router: Router; state: unknown; index: Record<string, string> };

/**
 * Every operator's simulator, one line each: an operator of the table (lib/operators.ts) without
 * one does not compile. They share nothing with the adapters.
 */
const SIMULATORS = {
  orange: orangeSandbox,
  mtn: mtnSandbox,
  ligdicash: ligdicashSandbox,
  tmoney: tmoneySandbox,
  paygate: paygateSandbox,
} satisfies Record<OperatorName, Simulator>;

type Simulators = typeof SIMULATORS;

/** A request an operator's simulator received: which operator, what, and when (ms since the epoch). */
export interface OperatorRequest {
  operator: OperatorName;
  method: string;
  path: string;
  at: number;
}

/** How many of the latest requests the sandbox keeps (`requests`). */
const REQUESTS_KEPT = 10_000;

/**
 * The sandbox: its express app, each simulator's records (tests and control routes read them),
 * and the latest requests the operators received, as an operator's own logs would show them
 * (how fast we called it, for one).
 */
export type Sandbox = { app: Express; processor: ProcessorSandbox; requests: OperatorRequest[] } & {
  [N in OperatorName]: ReturnType<Simulators[N]>['state'];
};

/** Every operator simulator, each under its own base path. */
export function createSandbox(config: SandboxConfig, logger: Logger): Sandbox {
  const app = express();
  app.disable('x-powered-by');
  const index: Record<string, Record<string, string>> = {};
  const requests: OperatorRequest[] = [];
  const mount = <N extends OperatorName>(name: N): ReturnType<Simulators[N]>['state'] => {
    const simulator = (SIMULATORS[name] as Simulator)(config, logger.child({ operator: name }));
    app.use(`/${name}`, (req, _res, next) => {
      requests.push({ operator: name, method: req.method, path: req.path, at: Date.now() });
      if (requests.length > REQUESTS_KEPT) requests.splice(0, requests.length - REQUESTS_KEPT);
      next();
    });
    app.use(`/${name}`, simulator.router);
    index[name] = simulator.index;
    return simulator.state as ReturnType<Simulators[N]>['state'];
  };
  const states = Object.fromEntries(OPERATORS.map((name) => [name, mount(name)])) as {
    [N in OperatorName]: ReturnType<Simulators[N]>['state'];
  };
  // The Visa/Mastercard card processor with 3-D Secure 2 (docs/card-processor.md); like GIM-UEMOA's
  // switch, not an operator of the table (lib/operators.ts) yet.
  const processor = processorSandbox(config, logger.child({ operator: 'processor' }));
  app.use('/processor', processor.router);
  index.processor = processor.index;
  app.get('/', (_req, res) => {
    res.json({ operators: index });
  });
  return { app, processor: processor.state, requests, ...states };
}
