import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../lib/config.js';
import { ROOT, eventually, freePort } from '../support/stack.js';
import { WORKER_V8_FLAGS } from '../../workers/heap.js';

describe('configuration', () => {
  it('has defaults that point a fresh clone at the local sandbox', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.SANDBOX_PORT).toBe(4000);
    expect(config.operators.ligdicash.baseUrl).toBe('http://127.0.0.1:4000/ligdicash/pay/v01/');
    expect(config.PUBLIC_BASE_URL).toBe('http://127.0.0.1:3000');
  });

  it('names every bad variable', () => {
    try {
      loadConfig({ PORT: 'abc', DATABASE_URL: 'mysql://x', LIGDICASH_PAYIN_DEADLINE_SECONDS: '-1' });
      expect.unreachable('loadConfig accepted a bad environment');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as ConfigError).message;
      expect(message).toContain('PORT');
      expect(message).toContain('"abc"');
      expect(message).toContain('DATABASE_URL');
      expect(message).toContain('LIGDICASH_PAYIN_DEADLINE_SECONDS');
    }
  });

  it('fails closed in production without what authenticates TMoney notifications', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(
      /TMONEY_CALLBACK_ALLOWED_IPS.*\n.*TMONEY_NOTIFICATION_TOKEN/s,
    );
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        TMONEY_CALLBACK_ALLOWED_IPS: '10.0.0.0/8',
        TMONEY_NOTIFICATION_TOKEN: 'short',
      }),
    ).toThrow(/TMONEY_NOTIFICATION_TOKEN/);
    expect(() => loadConfig({ TMONEY_CALLBACK_ALLOWED_IPS: '10.0.0.0/33' })).toThrow(
      /TMONEY_CALLBACK_ALLOWED_IPS/,
    );
    const ok = loadConfig({
      NODE_ENV: 'production',
      TMONEY_CALLBACK_ALLOWED_IPS: '196.168.1.2, 10.0.0.0/8',
      TMONEY_NOTIFICATION_TOKEN: 'a-secret-of-twenty-four-chars',
      // The card vault's development keys are refused in production too.
      CARD_VAULT_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      CARD_VAULT_FINGERPRINT_KEY: Buffer.alloc(32, 2).toString('base64'),
      // And the Temporal payload codec's and its endpoint's.
      TEMPORAL_PAYLOAD_KEYS: `p1:${Buffer.alloc(32, 3).toString('base64')}`,
      OPERATIONS_CODEC_KEY: 'an-operations-codec-key-of-40-characters',
    });
    expect(ok.operators.tmoney.callback.allowedIps).toEqual(['196.168.1.2', '10.0.0.0/8']);
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        TMONEY_CALLBACK_ALLOWED_IPS: '10.0.0.0/8',
        TMONEY_NOTIFICATION_TOKEN: 'a-secret-of-twenty-four-chars',
        CARD_VAULT_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
        CARD_VAULT_FINGERPRINT_KEY: Buffer.alloc(32, 2).toString('base64'),
      }),
    ).toThrow(/TEMPORAL_PAYLOAD_KEYS, OPERATIONS_CODEC_KEY: the development keys are refused/);
    // A real card processor with the sandbox's credentials is refused in production.
    const production = {
      NODE_ENV: 'production',
      TMONEY_CALLBACK_ALLOWED_IPS: '10.0.0.0/8',
      TMONEY_NOTIFICATION_TOKEN: 'a-secret-of-twenty-four-chars',
      CARD_VAULT_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      CARD_VAULT_FINGERPRINT_KEY: Buffer.alloc(32, 2).toString('base64'),
      TEMPORAL_PAYLOAD_KEYS: `p1:${Buffer.alloc(32, 3).toString('base64')}`,
      OPERATIONS_CODEC_KEY: 'an-operations-codec-key-of-40-characters',
    };
    expect(() => loadConfig({ ...production, PROCESSOR_BASE_URL: 'https://acquirer.example/api' })).toThrow(
      /PROCESSOR_API_KEY, PROCESSOR_WEBHOOK_SECRET: the sandbox credentials are refused/,
    );
    expect(
      loadConfig({
        ...production,
        PROCESSOR_BASE_URL: 'https://acquirer.example/api',
        PROCESSOR_API_KEY: 'live-key',
        PROCESSOR_WEBHOOK_SECRET: 'a-live-webhook-secret-0123',
      }).PROCESSOR_BASE_URL,
    ).toBe('https://acquirer.example/api');
    expect(() => loadConfig({ TEMPORAL_PAYLOAD_KEYS: 'p1:c2hvcnQ=' })).toThrow(
      /TEMPORAL_PAYLOAD_KEYS: key p1 is not 32 bytes/,
    );
  });

  it('refuses HTTP timeouts that a send activity could not outlive', async () => {
    const { checkSendTimeouts } = await import('../../activities/index.js');
    const { createOperators } = await import('../../operators/registry.js');
    expect(() => checkSendTimeouts(createOperators(loadConfig({ TMONEY_HTTP_TIMEOUT_MS: '40000' })))).toThrow(
      /tmoney: HTTP timeouts allow a send to take 480 s/,
    );
    expect(() => checkSendTimeouts(createOperators(loadConfig({})))).not.toThrow();
  });

  it('makes an entry point exit non-zero with the message', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'api', 'server.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: 'not-a-port' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain('PORT');
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string;
        build?: unknown;
        environment?: Record<string, string>;
        depends_on?: unknown;
        command?: unknown;
      }
    >;
  };

  it('names the production-like services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['api', 'postgres', 'sandbox', 'temporal', 'temporal-ui', 'worker', 'migrate'].sort(),
    );
  });

  it('gives api and worker an environment our config accepts, pointing at the compose services', () => {
    for (const name of ['api', 'worker']) {
      const env = compose.services[name]!.environment!;
      const config = loadConfig(env);
      expect(new URL(config.DATABASE_URL).hostname).toBe('postgres');
      expect(config.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(new URL(config.operators.ligdicash.baseUrl).hostname).toBe('sandbox');
    }
    expect(compose.services.temporal!.environment!.DB).toBe('postgres12');
  });

  it("starts the worker with the built code and the worker's heap limits (workers/heap.ts)", () => {
    expect(compose.services.worker!.command).toEqual(['node', ...WORKER_V8_FLAGS, 'dist/workers/main.js']);
  });
});

describe('the built code (npm run build)', () => {
  it('runs with plain node: the CLI and the API start from dist/ without a TypeScript loader', async () => {
    // `npm test` built dist/ before the suite; a quick run of this file builds it here.
    if (process.env.PASSERELLE_DIST_BUILT !== 'true') {
      const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(build.status, build.stderr).toBe(0);
    }
    const dist = path.join(ROOT, 'dist');
    for (const file of [
      'api/server.js',
      'workers/main.js',
      'sandbox/server.js',
      'cli/passerelle.js',
      'workflow-bundle.js',
    ]) {
      expect(existsSync(path.join(dist, file)), file).toBe(true);
    }
    expect(readdirSync(path.join(dist, 'db', 'migrations')).filter((f) => f.endsWith('.sql')).length).toBe(
      readdirSync(path.join(ROOT, 'db', 'migrations')).filter((f) => f.endsWith('.sql')).length,
    );
    // No loader: node alone, with nothing but PATH and the database in its environment.
    const env = { PATH: process.env.PATH ?? '', DATABASE_URL: process.env.DATABASE_URL ?? '' };
    const help = spawnSync(process.execPath, [path.join(dist, 'cli', 'passerelle.js'), '--help'], {
      encoding: 'utf8',
      env,
    });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('usage: passerelle');

    const port = await freePort();
    const api = spawn(process.execPath, [path.join(dist, 'api', 'server.js')], {
      env: {
        ...env,
        PORT: String(port),
        HOST: '127.0.0.1',
        TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? '',
        LOG_LEVEL: 'silent',
      },
      stdio: 'ignore',
    });
    try {
      const health = await eventually('the built API', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        return res?.status === 200 ? ((await res.json()) as { status: string }) : undefined;
      });
      expect(health.status).toBe('ok');
      const doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as {
        openapi: string;
      };
      expect(doc.openapi).toBe('3.1.0');
    } finally {
      api.kill('SIGTERM');
    }
  });
});
