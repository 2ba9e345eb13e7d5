import Foundation

/// The dashboard's languages: English and Russian.
enum DashboardLanguage: String, CaseIterable, Sendable {
    case en, ru

    /// `?lang=` first, then the `ct_lang` cookie, then the first of en/ru in Accept-Language.
    static func choose(query: String?, cookie: String?, acceptLanguage: String?) -> DashboardLanguage {
        if let q = query.flatMap(Self.init(rawValue:)) { return q }
        if let c = cookie.flatMap(Self.init(rawValue:)) { return c }
        let ranked = (acceptLanguage ?? "").split(separator: ",").compactMap { part -> (Self, Double)? in
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let tag = pieces.first, let language = Self(rawValue: String(tag.prefix(2))),
                tag.count == 2 || tag.dropFirst(2).hasPrefix("-")
            else { return nil }
            let q = pieces.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return (language, q)
        }
        return ranked.filter { $0.1 > 0 }.max { $0.1 < $1.1 }?.0 ?? .en
    }

    var name: String { self == .en ? "English" : "Русский" }
}

/// Every phrase the dashboard shows.
enum Phrase: CaseIterable {
    case report, calls, leads, pool, setup, signOut, signIn, signInTitle, token, wrongToken, formExpired,
        tooManyAttempts
    case project, from, to, groupBy, model, asRecorded, lastClick, lastNonDirect, firstClick, show
    case source, medium, campaign, keyword, landingPage, number, channel, day, hour, weekday
    case answered, missed, uniqueCallers, firstTimeCallers, avgRing, talkMinutes, sales, revenue, cost, costPerCall,
        costPerLead, roi
    case total, chartTitle, noCalls, time, caller, duration, status, recording, any, inProgress, newCaller, nextPage,
        noRecording
    case noAnswer, busy, cancelled, failed, rejected
    case phone, firstCall, noLeads
    case poolSize, liveReservations, visits, callsWeek, staticCalls, accuracy, peak, exhausted, averageVisit,
        reservationSeconds
    case recommendedReservation, planner, plannerIntro, visitorsMeasured, servedPercent, recommendedPool, currentPool
    case quickEstimate, peakEstimate, noVisits, poolEnough
    case snippetTitle, snippetHelp, costsTitle, costsHelp, costsFile, costsImport, checkField
    case deliveries, deliveriesIntro, event, endpoint, attempts, lastResult, nextAttempt, retry, noDeliveries, retried
}

/// The phrases in one language.
struct DashboardText {
    let language: DashboardLanguage

    subscript(_ phrase: Phrase) -> String {
        (language == .ru ? Self.russian[phrase] : nil) ?? Self.english[phrase] ?? "\(phrase)"
    }

    /// "the static number took 12 % of calls: add 3 numbers" (or without the advice when `add` is 0).
    func staticWarning(percent: Double, add: Int) -> String {
        let p = Self.number(percent, digits: 1, language: language)
        switch language {
        case .en:
            return add > 0
                ? "The static number took \(p) % of calls: add \(add) number\(add == 1 ? "" : "s")."
                : "The static number took \(p) % of calls."
        case .ru:
            let word = Self.russianPlural(add, "номер", "номера", "номеров")
            return add > 0
                ? "Статический номер принял \(p) % звонков: добавьте \(add) \(word)."
                : "Статический номер принял \(p) % звонков."
        }
    }

    func imported(_ rows: Int) -> String {
        language == .ru ? "Загружено строк: \(rows)." : "Imported \(rows) row\(rows == 1 ? "" : "s")."
    }

    /// 1 номер, 2 номера, 5 номеров, 21 номер, 11 номеров.
    static func russianPlural(_ n: Int, _ one: String, _ few: String, _ many: String) -> String {
        let tens = n % 100, units = n % 10
        if (11...14).contains(tens) { return many }
        if units == 1 { return one }
        if (2...4).contains(units) { return few }
        return many
    }

    /// A number with at most `digits` decimals, the decimal mark of the language, and thin groups.
    static func number(_ v: Double, digits: Int = 2, language: DashboardLanguage) -> String {
        let scale = pow(10, Double(digits))
        let rounded = (v * scale).rounded() / scale
        var text = String(format: "%.\(digits)f", rounded)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        let parts = text.split(separator: ".", maxSplits: 1)
        var whole = String(parts[0])
        if whole.count > 4 {
            var grouped = ""
            for (i, c) in whole.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { grouped.append("\u{202F}") }
                grouped.append(c)
            }
            whole = String(grouped.reversed())
        }
        let mark = language == .ru ? "," : "."
        return (negative ? "−" : "") + whole + (parts.count > 1 ? mark + parts[1] : "")
    }

    /// The phrases of each language, from `Resources/phrases.en.json` and `phrases.ru.json`.
    static let english = phrases(PackageResources.phrases_en_json)
    static let russian = phrases(PackageResources.phrases_ru_json)

    private static func phrases(_ json: [UInt8]) -> [Phrase: String] {
        let table = (try? JSONDecoder().decode([String: String].self, from: Data(json))) ?? [:]
        return Dictionary(uniqueKeysWithValues: Phrase.allCases.compactMap { p in table["\(p)"].map { (p, $0) } })
    }

    /// Every phrase by its name (`signOut`), for the templates' `{{t.signOut}}`.
    var all: [String: String] { Dictionary(uniqueKeysWithValues: Phrase.allCases.map { ("\($0)", self[$0]) }) }
}
