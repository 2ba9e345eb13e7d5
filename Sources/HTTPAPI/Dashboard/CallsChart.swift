import Foundation

/// Escapes text for HTML element content and attribute values. Everything a visitor or caller can
/// set (UTM tags, referrers, caller names) passes through here before it reaches a page.
func html(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for c in text.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

/// Calls per day by source as a server-drawn SVG of stacked bars: no script, no outside requests.
enum CallsChart {
    static let palette = ["#2f6fbd", "#e07b39", "#3a9d5d", "#c4453c", "#8a5cc2", "#b08a2e", "#3aa6a6", "#d0679d"]
    /// Sources beyond the busiest this many are drawn together as one "…".
    static let maxSeries = 8

    struct Series { let source: String; var perDay: [String: Int]; var total: Int }

    /// `days`: the period's days in order (`2026-11-01`); `calls`: (day, source, calls) triples.
    static func svg(days: [String], calls: [(day: String, source: String, count: Int)], title: String) -> (svg: String, legend: String) {
        var bySource: [String: Series] = [:]
        for c in calls {
            bySource[c.source, default: Series(source: c.source, perDay: [:], total: 0)].perDay[c.day, default: 0] += c.count
            bySource[c.source]?.total += c.count
        }
        var series = bySource.values.sorted { $0.total != $1.total ? $0.total > $1.total : $0.source < $1.source }
        if series.count > maxSeries {
            var rest = Series(source: "…", perDay: [:], total: 0)
            for s in series[(maxSeries - 1)...] {
                for (d, n) in s.perDay { rest.perDay[d, default: 0] += n }
                rest.total += s.total
            }
            series = Array(series.prefix(maxSeries - 1)) + [rest]
        }
        let width = 760.0, height = 240.0, left = 40.0, bottom = 28.0, top = 10.0, right = 10.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let dayTotals = days.map { d in series.reduce(0) { $0 + ($1.perDay[d] ?? 0) } }
        let highest = max(1, dayTotals.max() ?? 1)
        // A round top for the axis: 1, 2 or 5 times a power of ten.
        let magnitude = pow(10, floor(log10(Double(highest))))
        let axisTop = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= Double(highest) } ?? Double(highest)
        let slot = plotWidth / Double(max(1, days.count))
        let barWidth = max(1, slot * 0.8)
        func y(_ v: Double) -> Double { top + plotHeight - v / axisTop * plotHeight }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var out = """
            <svg id="calls-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" \
            aria-label="\(html(title))" font-family="sans-serif" font-size="11">
            <title>\(html(title))</title>
            """
        for tick in [0, axisTop / 2, axisTop] {
            out += "<line x1=\"\(f(left))\" x2=\"\(f(width - right))\" y1=\"\(f(y(tick)))\" y2=\"\(f(y(tick)))\" stroke=\"#ddd\"/>"
            let label = tick == tick.rounded() ? String(Int(tick)) : String(format: "%.1f", tick)
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\" fill=\"#555\">\(label)</text>"
        }
        let labelEvery = max(1, Int((Double(days.count) / 10).rounded(.up)))
        for (i, day) in days.enumerated() {
            let x = left + Double(i) * slot + (slot - barWidth) / 2
            var base = 0.0
            for (k, s) in series.enumerated() {
                guard let n = s.perDay[day], n > 0 else { continue }
                let h = Double(n) / axisTop * plotHeight
                out += "<rect class=\"bar\" x=\"\(f(x))\" y=\"\(f(y(base) - h))\" width=\"\(f(barWidth))\" height=\"\(f(h))\" "
                    + "fill=\"\(palette[k % palette.count])\"><title>\(html(day)) · \(html(s.source)): \(n)</title></rect>"
                base += Double(n)
            }
            if i % labelEvery == 0 {
                out += "<text x=\"\(f(left + (Double(i) + 0.5) * slot))\" y=\"\(f(height - 10))\" text-anchor=\"middle\" fill=\"#555\">"
                    + "\(html(String(day.suffix(5))))</text>"
            }
        }
        out += "</svg>"
        let legend = series.enumerated().map { k, s in
            "<li><span class=\"swatch\" style=\"background:\(palette[k % palette.count])\"></span>\(html(s.source)) (\(s.total))</li>"
        }.joined()
        return (out, "<ul class=\"legend\">\(legend)</ul>")
    }
}
