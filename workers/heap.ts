/**
 * The worker's V8 heap limits, given on its command line by whatever starts it (`npm start`, the
 * benchmarks, docker-compose.yml's worker). Without them V8 lets each heap (the main thread's,
 * where activities run, and the workflow thread's) grow far past what it keeps alive and returns
 * little of it: after 5,000 payins were created, a worker caching 250 workflows held 430 MB while
 * they waited, against 300 MB with these limits, and settled their callbacks faster
 * (docs/BENCHMARKS.md, bench:idle). The main thread keeps about 50 MB alive, a 1,010,000-line
 * settlement report included (it is streamed). `--max-old-space-size` applies to each thread's
 * heap: a larger WORKER_MAX_CACHED_WORKFLOWS needs a larger one (about 600 workflows per GB is
 * the Temporal SDK's own rule).
 */
export const WORKER_V8_FLAGS = ['--max-old-space-size=160', '--max-semi-space-size=8'] as const;
