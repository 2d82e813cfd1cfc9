/**
 * A stacked bar chart per day, written as SVG by hand (a few dozen lines beat a chart library's
 * weight here). Values are bigint (micro-units of money, or tokens), so the heights are computed
 * in integers and the labels show the exact amounts; every bar segment carries its exact value in
 * a <title>, and the legend names the series in the same colours.
 */
import { element } from '../dom.ts';

export type ChartSeries = { name: string; values: readonly bigint[] };

export type BarChartInput = {
  label: string;
  days: readonly string[];
  series: readonly ChartSeries[];
  formatValue: (value: bigint) => string;
};

const svgNamespace = 'http://www.w3.org/2000/svg';
const width = 640;
const height = 220;
const axisHeight = 24;
const scaleSteps = 10_000n;
const palette = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#65a30d'];

function svg(tag: string, attributes: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(svgNamespace, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, String(value));
  }
  return node;
}

function colourOf(index: number): string {
  return palette[index % palette.length] ?? '#2563eb';
}

function dayTotals(input: BarChartInput): bigint[] {
  return input.days.map((_, day) =>
    input.series.reduce((sum, series) => sum + (series.values[day] ?? 0n), 0n),
  );
}

/** Pixels of `value` on a chart whose tallest bar is `max`, in integer steps. */
function pixelsOf(value: bigint, max: bigint, plotHeight: number): number {
  return max === 0n ? 0 : (Number((value * scaleSteps) / max) / Number(scaleSteps)) * plotHeight;
}

export function barChart(input: BarChartInput): HTMLElement {
  const totals = dayTotals(input);
  let max = 0n;
  for (const total of totals) {
    max = total > max ? total : max;
  }
  const plotHeight = height - axisHeight;
  const slot = width / Math.max(input.days.length, 1);
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `${input.label}: ${input.formatValue(max)} max`,
    class: 'bar-chart',
  });
  input.days.forEach((day, dayIndex) => {
    let top = plotHeight;
    input.series.forEach((series, seriesIndex) => {
      const value = series.values[dayIndex] ?? 0n;
      const barHeight = pixelsOf(value, max, plotHeight);
      if (value === 0n) {
        return;
      }
      top -= barHeight;
      const bar = svg('rect', {
        x: dayIndex * slot + slot * 0.15,
        y: top,
        width: slot * 0.7,
        height: Math.max(barHeight, 1),
        fill: colourOf(seriesIndex),
      });
      const title = svg('title', {});
      title.textContent = `${day} · ${series.name}: ${input.formatValue(value)}`;
      bar.appendChild(title);
      chart.appendChild(bar);
    });
    const label = svg('text', {
      x: dayIndex * slot + slot / 2,
      y: height - 6,
      'text-anchor': 'middle',
      class: 'axis-label',
    });
    label.textContent = day.slice(5);
    chart.appendChild(label);
  });
  const legend = element(
    'ul',
    { class: 'legend' },
    ...input.series.map((series, index) =>
      element(
        'li',
        {},
        element('span', {
          class: `swatch swatch-${index % palette.length}`,
          'aria-hidden': 'true',
        }),
        series.name,
      ),
    ),
  );
  const figure = element('figure', { class: 'chart' }, element('figcaption', {}, input.label));
  figure.appendChild(chart);
  figure.appendChild(legend);
  return figure;
}
