/*
 * A small, dependency-free SVG chart writer: line charts (optionally log-scale y) and grouped bar
 * charts, with axes, ticks, labels and a legend. The output depends only on the input (numbers are
 * printed with fixed precision), so regenerating an unchanged experiment gives identical files.
 */

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  /** Dashed line (e.g. an exact formula next to a simulation). */
  readonly dashed?: boolean;
}

export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly logY?: boolean;
  /** Horizontal reference lines (targets). */
  readonly hLines?: readonly { readonly y: number; readonly label: string }[];
}

export interface BarChart {
  readonly title: string;
  readonly yLabel: string;
  /** Under the categories (optional). */
  readonly xLabel?: string;
  /** Category labels along x. */
  readonly categories: readonly string[];
  /** One value per category and group. */
  readonly groups: readonly { readonly name: string; readonly values: readonly number[] }[];
}

const W = 640;
const H = 400;
const M = { left: 70, right: 170, top: 40, bottom: 55 };
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));

/** Tick label: short, fixed. */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  if (a >= 100) return v.toFixed(0);
  return Number(v.toPrecision(3)).toString();
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function frame(title: string, xLabel: string, yLabel: string): string[] {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11" role="img">`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}" stroke="#000"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + ph}" stroke="#000"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="16" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + ph / 2})">${esc(yLabel)}</text>`,
  ];
}

function legend(items: readonly { name: string; color: string; dashed?: boolean | undefined }[]): string[] {
  const x = W - M.right + 12;
  return items.flatMap((it, i) => {
    const y = M.top + 8 + i * 18;
    return [
      `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${it.color}" stroke-width="2"${it.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${x + 28}" y="${y + 4}">${esc(it.name)}</text>`,
    ];
  });
}

export function lineChart(c: LineChart): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const pts = c.series.flatMap((s) => s.points);
  const ys = [...pts.map((p) => p[1]), ...(c.hLines ?? []).map((h) => h.y)].filter(
    (y) => Number.isFinite(y) && (!c.logY || y > 0),
  );
  const xs = pts.map((p) => p[0]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  let ty: (y: number) => number;
  let yTicks: number[];
  if (c.logY) {
    const lo = Math.floor(Math.log10(Math.min(...ys)));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...ys))));
    ty = (y) => M.top + ph - ((Math.log10(Math.max(y, 10 ** lo)) - lo) / (hi - lo)) * ph;
    yTicks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
  } else {
    const lo = Math.min(0, ...ys);
    const hiRaw = Math.max(...ys);
    const hi = hiRaw > lo ? hiRaw * 1.05 : lo + 1;
    ty = (y) => M.top + ph - ((y - lo) / (hi - lo)) * ph;
    yTicks = niceTicks(lo, hi);
  }
  const tx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * pw;
  const out = frame(c.title, c.xLabel, c.yLabel);
  for (const v of niceTicks(x0, x1)) {
    out.push(
      `<line x1="${f(tx(v))}" y1="${M.top + ph}" x2="${f(tx(v))}" y2="${M.top + ph + 5}" stroke="#000"/>`,
      `<text x="${f(tx(v))}" y="${M.top + ph + 18}" text-anchor="middle">${esc(tickLabel(v))}</text>`,
    );
  }
  for (const v of yTicks) {
    out.push(
      `<line x1="${M.left - 5}" y1="${f(ty(v))}" x2="${M.left}" y2="${f(ty(v))}" stroke="#000"/>`,
      `<line x1="${M.left}" y1="${f(ty(v))}" x2="${M.left + pw}" y2="${f(ty(v))}" stroke="#e0e0e0"/>`,
      `<text x="${M.left - 8}" y="${f(ty(v) + 4)}" text-anchor="end">${esc(tickLabel(v))}</text>`,
    );
  }
  for (const h of c.hLines ?? []) {
    out.push(
      `<line x1="${M.left}" y1="${f(ty(h.y))}" x2="${M.left + pw}" y2="${f(ty(h.y))}" stroke="#555" stroke-dasharray="2 2"/>`,
      `<text x="${M.left + pw - 4}" y="${f(ty(h.y) - 4)}" text-anchor="end" fill="#555">${esc(h.label)}</text>`,
    );
  }
  c.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const visible = s.points.filter((p) => Number.isFinite(p[1]) && (!c.logY || p[1] > 0));
    const d = visible.map((p, j) => `${j === 0 ? 'M' : 'L'}${f(tx(p[0]))},${f(ty(p[1]))}`).join(' ');
    if (d)
      out.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      );
    for (const p of visible)
      out.push(`<circle cx="${f(tx(p[0]))}" cy="${f(ty(p[1]))}" r="2.5" fill="${color}"/>`);
  });
  out.push(
    ...legend(
      c.series.map((s, i) => ({ name: s.name, color: PALETTE[i % PALETTE.length]!, dashed: s.dashed })),
    ),
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export function barChart(c: BarChart): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const vals = c.groups.flatMap((g) => g.values);
  const lo = Math.min(0, ...vals);
  const hiRaw = Math.max(0, ...vals);
  const span = hiRaw - lo > 0 ? (hiRaw - lo) * 1.05 : 1;
  const hi = lo + span;
  const ty = (y: number) => M.top + ph - ((y - lo) / (hi - lo)) * ph;
  const out = frame(c.title, c.xLabel ?? '', c.yLabel);
  for (const v of niceTicks(lo, hi)) {
    out.push(
      `<line x1="${M.left - 5}" y1="${f(ty(v))}" x2="${M.left + pw}" y2="${f(ty(v))}" stroke="#e0e0e0"/>`,
      `<text x="${M.left - 8}" y="${f(ty(v) + 4)}" text-anchor="end">${esc(tickLabel(v))}</text>`,
    );
  }
  out.push(`<line x1="${M.left}" y1="${f(ty(0))}" x2="${M.left + pw}" y2="${f(ty(0))}" stroke="#000"/>`);
  const slot = pw / c.categories.length;
  const bw = (slot * 0.8) / c.groups.length;
  c.categories.forEach((cat, k) => {
    out.push(
      `<text x="${f(M.left + slot * (k + 0.5))}" y="${M.top + ph + 18}" text-anchor="middle">${esc(cat)}</text>`,
    );
    c.groups.forEach((g, i) => {
      const v = g.values[k] ?? 0;
      const x = M.left + slot * k + slot * 0.1 + bw * i;
      const y = Math.min(ty(v), ty(0));
      const h = Math.abs(ty(v) - ty(0));
      out.push(
        `<rect x="${f(x)}" y="${f(y)}" width="${f(bw)}" height="${f(h)}" fill="${PALETTE[i % PALETTE.length]}"/>`,
      );
    });
  });
  out.push(...legend(c.groups.map((g, i) => ({ name: g.name, color: PALETTE[i % PALETTE.length]! }))));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
