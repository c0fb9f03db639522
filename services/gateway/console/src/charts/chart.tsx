// One uPlot chart with its markers as buttons (keyboard: Tab to a marker, Enter explains it),
// its bands and cut-off drawn under the series, and a table alternative. Colours are the
// Okabe–Ito palette, and each series also has its own dash, so colour is never the only cue.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { EvidenceList } from "../evidence";
import { aligned, type ChartModel, type Marker } from "./model";

export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
const DASHES: number[][] = [[], [8, 4], [2, 3], [10, 3, 2, 3]];
export const MARKER_SYMBOL = { open: "▲", repaired: "●", escalated: "■", signal: "◆" } as const;
const MARKER_NAME = { open: "open rupture", repaired: "repaired rupture", escalated: "escalated rupture", signal: "signal" } as const;

function bands(chart: ChartModel) {
  return (u: uPlot) => {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.fillStyle = "rgba(204, 121, 167, 0.18)"; // split alliance
    for (const band of chart.splits) {
      const x0 = u.valToPos(band.from - 0.5, "x", true);
      const x1 = u.valToPos(band.to + 0.5, "x", true);
      ctx.fillRect(x0, top, x1 - x0, height);
    }
    ctx.fillStyle = "rgba(86, 180, 233, 0.16)"; // expected change
    for (const band of chart.expected) {
      ctx.beginPath();
      ctx.moveTo(u.valToPos(band.from, "x", true), u.valToPos(band.low[0], "y", true));
      ctx.lineTo(u.valToPos(band.to, "x", true), u.valToPos(band.low[1], "y", true));
      ctx.lineTo(u.valToPos(band.to, "x", true), u.valToPos(band.high[1], "y", true));
      ctx.lineTo(u.valToPos(band.from, "x", true), u.valToPos(band.high[0], "y", true));
      ctx.closePath();
      ctx.fill();
    }
    if (chart.cutoff !== null) {
      const y = u.valToPos(chart.cutoff, "y", true);
      ctx.strokeStyle = "#333333";
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + width, y);
      ctx.stroke();
    }
    ctx.restore();
  };
}

function yRange(chart: ChartModel): [number, number] {
  const values = [
    ...chart.series.flatMap((s) => s.points.map((p) => p.total)),
    ...(chart.cutoff === null ? [] : [chart.cutoff]),
    ...chart.expected.flatMap((b) => [...b.low, ...b.high]),
  ];
  const low = Math.min(...values);
  const high = Math.max(...values);
  const pad = Math.max(1, (high - low) * 0.08);
  return [Math.max(0, Math.floor(low - pad)), Math.ceil(high + pad)];
}

export function Chart({ chart, id }: { chart: ChartModel; id: string }) {
  const host = useRef<HTMLDivElement>(null);
  const [plot, setPlot] = useState<uPlot | null>(null);
  const [chosen, setChosen] = useState<Marker | null>(null);
  const [, setWidth] = useState(0); // a new width places the markers again

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const width = Math.max(320, Math.min(element.clientWidth || 720, 960));
    const u = new uPlot(
      {
        width,
        height: 280,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false }, y: { range: yRange(chart) } },
        axes: [{ label: "Session", incrs: [1, 2, 5, 10] }, { label: chart.construct === "alliance" ? "Alliance total" : "Outcome total" }],
        series: [
          { label: "Session" },
          ...chart.series.map((s, i) => ({
            label: s.label,
            stroke: PALETTE[i % PALETTE.length],
            dash: DASHES[i % DASHES.length],
            width: 2,
            spanGaps: true,
            points: { show: true, size: 6 },
          })),
        ],
        hooks: { drawAxes: [bands(chart)] },
      },
      aligned(chart) as uPlot.AlignedData,
      element,
    );
    setPlot(u);
    // Follow the page's width; the markers are placed again from the new scales.
    const resized = new ResizeObserver(() => {
      const next = Math.max(320, Math.min(element.clientWidth, 960));
      if (next !== u.width) {
        u.setSize({ width: next, height: u.height });
        setWidth(next);
      }
    });
    resized.observe(element);
    return () => {
      resized.disconnect();
      u.destroy();
      setPlot(null);
    };
  }, [chart]);

  return (
    <section class="chart" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{chart.title}</h3>
      <p class="chart-key">
        {chart.cutoff !== null && <span>Dashed grey line: cut-off {chart.cutoff}. </span>}
        {chart.splits.length > 0 && <span class="key-split">Shaded pink: split alliance (parent above child). </span>}
        {chart.expected.length > 0 && <span class="key-expected">Shaded blue: expected change from intake. </span>}
        Markers: ▲ open, ● repaired, ■ escalated rupture, ◆ signal (several at one point: stacked upwards).
      </p>
      <div class="plot-wrap">
        <div class="plot" ref={host} role="img" aria-label={`${chart.title}: ${chart.series.map((s) => s.label).join(", ")}; the table below has the values`} />
        <div class="markers">
          {plot &&
            chart.markers.map((m) => (
              <button
                type="button"
                key={m.id}
                class={`marker marker-${m.kind}`}
                style={{
                  left: `${plot.valToPos(m.session, "x") + plot.bbox.left / devicePixelRatio}px`,
                  top: `${plot.valToPos(m.value, "y") + plot.bbox.top / devicePixelRatio}px`,
                  transform: `translate(-50%, ${-50 - 100 * m.stack}%)`, // stacked above the point
                }}
                aria-label={`${MARKER_NAME[m.kind]}: ${m.title}`}
                aria-pressed={chosen?.id === m.id}
                aria-controls={`${id}-explain`}
                onClick={() => setChosen(chosen?.id === m.id ? null : m)}
              >
                {MARKER_SYMBOL[m.kind]}
              </button>
            ))}
        </div>
      </div>
      <div id={`${id}-explain`} class="explain" aria-live="polite">
        {chosen && (
          <div>
            <h4>{chosen.title}</h4>
            <EvidenceList evidence={chosen.evidence} />
          </div>
        )}
      </div>
      <details>
        <summary>Table of {chart.title}</summary>
        <table>
          <caption>{chart.title}: totals by session</caption>
          <thead>
            <tr>
              <th scope="col">Session</th>
              {chart.series.map((s) => (
                <th scope="col" key={s.key}>{s.label}</th>
              ))}
              <th scope="col">Markers</th>
            </tr>
          </thead>
          <tbody>
            {chart.sessions.map((session) => (
              <tr key={session}>
                <th scope="row">{session}</th>
                {chart.series.map((s) => (
                  <td key={s.key}>{s.points.find((p) => p.session === session)?.total ?? "–"}</td>
                ))}
                <td>
                  {chart.markers.filter((m) => m.session === session).map((m) => `${MARKER_SYMBOL[m.kind]} ${m.title}`).join("; ")}
                  {chart.splits.some((b) => session >= b.from && session <= b.to) ? " split alliance" : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}
