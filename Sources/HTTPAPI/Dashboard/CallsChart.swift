import Foundation

/// Calls per day by source as stacked bars, drawn by the server as SVG (`chart.mustache`): no
/// script, no outside requests. This is the geometry; the template writes it.
struct CallsChart {
    /// Sources beyond the busiest this many are drawn together as one "…".
    static let maxSeries = 8
    static let palette = ["#2f6fbd", "#e07b39", "#3a9d5d", "#c4453c", "#8a5cc2", "#b08a2e", "#3aa6a6", "#d0679d"]
    static let width = 760.0, height = 240.0, left = 40.0, bottom = 28.0, top = 10.0, right = 10.0

    struct Tick { let x1, x2, y, labelX, labelY, label: String }
    struct Bar { let x, y, width, height, fill, title: String }
    struct DayLabel { let x, y, text: String }
    struct LegendEntry {
        let series: Int
        let text: String
    }

    let title: String
    let ticks: [Tick]
    let bars: [Bar]
    let dayLabels: [DayLabel]
    let legend: [LegendEntry]

    private struct Series {
        let source: String
        var perDay: [String: Int]
        var total: Int
    }

    /// `days`: the period's days in order (`2026-11-01`); `calls`: (day, source, calls) triples.
    init(days: [String], calls: [(day: String, source: String, count: Int)], title: String) {
        self.title = title
        var bySource: [String: Series] = [:]
        for c in calls {
            bySource[c.source, default: Series(source: c.source, perDay: [:], total: 0)].perDay[c.day, default: 0] +=
                c.count
            bySource[c.source]?.total += c.count
        }
        var series = bySource.values.sorted { $0.total != $1.total ? $0.total > $1.total : $0.source < $1.source }
        if series.count > Self.maxSeries {
            var rest = Series(source: "…", perDay: [:], total: 0)
            for s in series[(Self.maxSeries - 1)...] {
                for (d, n) in s.perDay { rest.perDay[d, default: 0] += n }
                rest.total += s.total
            }
            series = Array(series.prefix(Self.maxSeries - 1)) + [rest]
        }
        let plotWidth = Self.width - Self.left - Self.right, plotHeight = Self.height - Self.top - Self.bottom
        let highest = max(1, days.map { d in series.reduce(0) { $0 + ($1.perDay[d] ?? 0) } }.max() ?? 1)
        // A round top for the axis: 1, 2 or 5 times a power of ten.
        let magnitude = pow(10, floor(log10(Double(highest))))
        let axisTop = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= Double(highest) } ?? Double(highest)
        let slot = plotWidth / Double(max(1, days.count))
        let barWidth = max(1, slot * 0.8)
        func y(_ v: Double) -> Double { Self.top + plotHeight - v / axisTop * plotHeight }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        ticks = [0, axisTop / 2, axisTop].map { tick in
            Tick(
                x1: f(Self.left), x2: f(Self.width - Self.right), y: f(y(tick)), labelX: f(Self.left - 6),
                labelY: f(y(tick) + 4), label: tick == tick.rounded() ? String(Int(tick)) : String(format: "%.1f", tick)
            )
        }
        var bars: [Bar] = []
        for (i, day) in days.enumerated() {
            let x = Self.left + Double(i) * slot + (slot - barWidth) / 2
            var base = 0.0
            for (k, s) in series.enumerated() {
                guard let n = s.perDay[day], n > 0 else { continue }
                let h = Double(n) / axisTop * plotHeight
                bars.append(
                    Bar(
                        x: f(x), y: f(y(base) - h), width: f(barWidth), height: f(h),
                        fill: Self.palette[k % Self.palette.count], title: "\(day) · \(s.source): \(n)"))
                base += Double(n)
            }
        }
        self.bars = bars
        let labelEvery = max(1, Int((Double(days.count) / 10).rounded(.up)))
        dayLabels = days.enumerated().filter { $0.offset % labelEvery == 0 }.map { i, day in
            DayLabel(x: f(Self.left + (Double(i) + 0.5) * slot), y: f(Self.height - 10), text: String(day.suffix(5)))
        }
        legend = series.enumerated().map { k, s in
            LegendEntry(series: k % Self.palette.count, text: "\(s.source) (\(s.total))")
        }
    }
}
