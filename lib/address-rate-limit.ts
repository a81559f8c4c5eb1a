/**
 * A fixed one-minute window per source address, in this process's memory: the first line against
 * one address flooding an unauthenticated endpoint (operator callbacks, the payer's pages). Many
 * addresses cannot reset everyone's window: ended windows go first when the map is full.
 */
export class PerAddressRateLimit {
  private readonly windows = new Map<string, { startedAt: number; count: number }>();
  constructor(private readonly perMinute: number) {}

  allow(source: string): boolean {
    const now = Date.now();
    const w = this.windows.get(source);
    if (!w || now - w.startedAt >= 60_000) {
      if (this.windows.size > 10_000) {
        for (const [key, old] of this.windows) if (now - old.startedAt >= 60_000) this.windows.delete(key);
        if (this.windows.size > 10_000) this.windows.clear();
      }
      this.windows.set(source, { startedAt: now, count: 1 });
      return true;
    }
    w.count++;
    return w.count <= this.perMinute;
  }
}
