import { describe, expect, it } from 'vitest';
import { barChart, lineChart, niceTicks } from './svg.js';

/** Tags balance, attributes are quoted, no stray `<`/`&`, one root: enough to call the SVG well-formed. */
function assertWellFormed(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  const stack: string[] = [];
  const text = svg.replace(
    /<(\/?)([a-zA-Z]+)((?:\s+[a-zA-Z][a-zA-Z0-9:-]*="[^"<]*")*)\s*(\/?)>/g,
    (_m, close, name, _a, self) => {
      if (close) expect(stack.pop()).toBe(name);
      else if (!self) stack.push(name);
      return '';
    },
  );
  expect(stack).toEqual([]);
  expect(text).not.toMatch(/[<>]/);
  expect(text.replace(/&(amp|lt|gt|quot);/g, '')).not.toContain('&');
  expect(svg).not.toMatch(/NaN|Infinity|undefined/);
}

const line = {
  title: 'P & Q <test>',
  xLabel: 'x',
  yLabel: 'y',
  series: [
    {
      name: 'a',
      points: [
        [0, 1e-4],
        [0.5, 0.01],
        [1, 0.3],
      ] as const,
    },
    {
      name: 'b "exact"',
      points: [
        [0, 0],
        [1, 0.2],
      ] as const,
      dashed: true,
    },
  ],
  hLines: [{ y: 0.01, label: 'target' }],
};

describe('SVG charts', () => {
  it('writes a well-formed line chart, linear and log, with ticks, labels and a legend', () => {
    for (const logY of [false, true]) {
      const svg = lineChart({ ...line, logY });
      assertWellFormed(svg);
      expect(svg).toContain('P &amp; Q &lt;test&gt;');
      expect(svg).toContain('b &quot;exact&quot;');
      expect(svg).toContain('stroke-dasharray');
    }
  });

  it('writes a well-formed bar chart with negative values', () => {
    const svg = barChart({
      title: 'income',
      yLabel: 'DFS',
      categories: ['0 %', '10 %'],
      groups: [
        { name: 'honest', values: [0.1, 3] },
        { name: 'absent', values: [-0.2, -0.2] },
      ],
    });
    assertWellFormed(svg);
    expect(svg.match(/<rect /g)).toHaveLength(5);
  });

  it('is deterministic', () => {
    expect(lineChart(line)).toBe(lineChart(line));
  });

  it('picks round ticks', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 63)).toEqual([0, 20, 40, 60]);
  });
});
