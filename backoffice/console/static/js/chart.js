// The meter chart of a session (uPlot): energy (kWh) and, when metered, power (kW).
import { el } from "./console.js";

const ENERGY = "Energy.Active.Import.Register";
const POWER = "Power.Active.Import";

function kilo(value, unit) {
  const number = Number(value);
  return unit && unit.startsWith("k") ? number : number / 1000;
}

// [[t...], [kWh...], [kW...]] from a session's meter values (phase-less, outlet values).
export function series(meterValues) {
  const byTime = new Map();
  for (const m of meterValues) {
    if (m.value === null || (m.phase && m.phase !== "")) continue;
    if (m.measurand !== ENERGY && m.measurand !== POWER) continue;
    const t = new Date(m.sampled_at).getTime() / 1000;
    const point = byTime.get(t) || [null, null];
    point[m.measurand === ENERGY ? 0 : 1] = kilo(m.value, m.unit);
    byTime.set(t, point);
  }
  const times = [...byTime.keys()].sort((a, b) => a - b);
  return [times, times.map((t) => byTime.get(t)[0]), times.map((t) => byTime.get(t)[1])];
}

export class MeterChart {
  constructor(box) {
    this.box = box;
    this.plot = null;
    this.points = 0;
  }

  update(meterValues) {
    const data = series(meterValues);
    this.points = data[0].length;
    this.box.dataset.points = String(this.points);
    if (!window.uPlot) {
      this.box.replaceChildren(el("p", {}, "The chart library did not load."));
      return;
    }
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    const width = Math.max(280, this.box.clientWidth - 4);
    this.plot = new uPlot({
      width, height: 280,
      series: [
        {},
        { label: "Energy (kWh)", stroke: "#0b57d0", width: 2, scale: "kWh", spanGaps: true },
        { label: "Power (kW)", stroke: "#12703a", width: 2, scale: "kW", spanGaps: true },
      ],
      axes: [{}, { scale: "kWh", label: "kWh" }, { scale: "kW", label: "kW", side: 1, grid: { show: false } }],
    }, data, this.box);
  }
}
