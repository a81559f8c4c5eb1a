import { describe, expect, it } from 'vitest';
import { SCENARIOS, scenarioFor } from '../../sandbox/ligdicash/scenarios.js';

describe('sandbox scenario table', () => {
  it('maps magic amounts and magic numbers to the same scenarios', () => {
    for (const [name, { code }] of Object.entries(SCENARIOS)) {
      if (code === 0) continue;
      expect(scenarioFor(1000 + code, '')).toBe(name);
      expect(scenarioFor(5000, `2267000${String(code).padStart(4, '0')}`)).toBe(name);
    }
  });

  it('lets ordinary payments pay', () => {
    expect(scenarioFor(5000, '')).toBe('pays');
    expect(scenarioFor(1000, '22670123456')).toBe('pays');
    expect(scenarioFor(1013, '')).toBe('pays');
  });
});
