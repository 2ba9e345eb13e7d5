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
                  tag.count == 2 || tag.dropFirst(2).hasPrefix("-") else { return nil }
            let q = pieces.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return (language, q)
        }
        return ranked.filter { $0.1 > 0 }.max { $0.1 < $1.1 }?.0 ?? .en
    }

    var name: String { self == .en ? "English" : "Русский" }
}

/// Every phrase the dashboard shows.
enum Phrase: CaseIterable {
    case report, calls, leads, pool, setup, signOut, signIn, signInTitle, token, wrongToken, formExpired, tooManyAttempts
    case project, from, to, groupBy, model, asRecorded, lastClick, lastNonDirect, firstClick, show
    case source, medium, campaign, keyword, landingPage, number, channel, day, hour, weekday
    case answered, missed, uniqueCallers, firstTimeCallers, avgRing, talkMinutes, sales, revenue, cost, costPerCall, costPerLead, roi
    case total, chartTitle, noCalls, time, caller, duration, status, recording, any, inProgress, newCaller, nextPage, noRecording
    case noAnswer, busy, cancelled, failed, rejected
    case phone, firstCall, noLeads
    case poolSize, liveReservations, visits, callsWeek, staticCalls, accuracy, peak, exhausted, averageVisit, reservationSeconds
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
            return add > 0 ? "The static number took \(p) % of calls: add \(add) number\(add == 1 ? "" : "s")."
                : "The static number took \(p) % of calls."
        case .ru:
            let word = Self.russianPlural(add, "номер", "номера", "номеров")
            return add > 0 ? "Статический номер принял \(p) % звонков: добавьте \(add) \(word)."
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

    static let english: [Phrase: String] = [
        .report: "Report", .calls: "Calls", .leads: "Leads", .pool: "Number pool", .setup: "Setup", .signOut: "Sign out",
        .signIn: "Sign in", .signInTitle: "Sign in to CallTrack", .token: "Admin token", .wrongToken: "This token is not valid.",
        .formExpired: "The form has expired. Please try again.",
        .tooManyAttempts: "Too many attempts from your address. Wait a minute and try again.",
        .project: "Project", .from: "From", .to: "To", .groupBy: "Group by", .model: "Attribution", .asRecorded: "As recorded",
        .lastClick: "Last click", .lastNonDirect: "Last non-direct click", .firstClick: "First click", .show: "Show",
        .source: "Source", .medium: "Medium", .campaign: "Campaign", .keyword: "Keyword", .landingPage: "Landing page",
        .number: "Number", .channel: "Channel", .day: "Day", .hour: "Hour", .weekday: "Weekday",
        .answered: "Answered", .missed: "Missed", .uniqueCallers: "Unique callers", .firstTimeCallers: "First-time callers",
        .avgRing: "Avg ring, s", .talkMinutes: "Talk, min", .sales: "Sales", .revenue: "Revenue", .cost: "Cost",
        .costPerCall: "Cost per call", .costPerLead: "Cost per lead", .roi: "ROI",
        .total: "Total", .chartTitle: "Calls per day by source", .noCalls: "No calls in this period.",
        .time: "Time", .caller: "Caller", .duration: "Talk", .status: "Status", .recording: "Recording", .any: "Any",
        .inProgress: "in progress", .newCaller: "new", .nextPage: "Next page", .noRecording: "no recording",
        .noAnswer: "no answer", .busy: "busy", .cancelled: "caller hung up", .failed: "failed", .rejected: "rejected",
        .phone: "Phone", .firstCall: "First call", .noLeads: "No leads in this period.",
        .poolSize: "Numbers in the pool", .liveReservations: "Held now", .visits: "Visits, 7 days", .callsWeek: "Calls, 7 days",
        .staticCalls: "Calls to the static number, 7 days", .accuracy: "Accuracy", .peak: "Most held at once",
        .exhausted: "Times the pool ran out", .averageVisit: "Average visit, s", .reservationSeconds: "Reservation time, s",
        .recommendedReservation: "Recommended reservation time, s", .planner: "Planner",
        .plannerIntro: "The last 7 days of your own visitors replayed against other pool sizes.",
        .visitorsMeasured: "Visitors replayed", .servedPercent: "Visitors who get a number", .recommendedPool: "Recommended pool",
        .currentPool: "current", .quickEstimate: "Quick estimate (visits per day / 100 + 1)",
        .peakEstimate: "Peak estimate (most held at once × 1.2)", .noVisits: "No visits recorded yet.",
        .poolEnough: "The pool is big enough for the visitors measured.",
        .snippetTitle: "Snippet for the website", .snippetHelp: "Paste this tag into every page of the site, before </body>.",
        .costsTitle: "Import ad costs",
        .costsHelp: "CSV with the header date,source,medium,campaign,keyword,amount. A row for the same day, source, medium, campaign and keyword replaces the earlier amount; a bad row stops the whole import.",
        .costsFile: "CSV file", .costsImport: "Import", .checkField: "Check the field",
        .deliveries: "Deliveries", .deliveriesIntro: "Webhooks, analytics events and e-mails sent from the outbox, newest first.",
        .event: "Event", .endpoint: "Endpoint", .attempts: "Attempts", .lastResult: "Last result", .nextAttempt: "Next attempt",
        .retry: "Send again", .noDeliveries: "Nothing has been sent yet.", .retried: "Queued to be sent again.",
    ]

    static let russian: [Phrase: String] = [
        .report: "Отчёт", .calls: "Звонки", .leads: "Лиды", .pool: "Пул номеров", .setup: "Настройка", .signOut: "Выйти",
        .signIn: "Войти", .signInTitle: "Вход в CallTrack", .token: "Токен администратора", .wrongToken: "Токен не подходит.",
        .formExpired: "Форма устарела. Попробуйте ещё раз.",
        .tooManyAttempts: "Слишком много попыток с вашего адреса. Подождите минуту и попробуйте снова.",
        .project: "Проект", .from: "С", .to: "По", .groupBy: "Группировка", .model: "Атрибуция", .asRecorded: "Как записано",
        .lastClick: "Последний клик", .lastNonDirect: "Последний значимый переход", .firstClick: "Первый клик", .show: "Показать",
        .source: "Источник", .medium: "Тип трафика", .campaign: "Кампания", .keyword: "Ключевое слово",
        .landingPage: "Страница входа", .number: "Номер", .channel: "Канал", .day: "День", .hour: "Час", .weekday: "День недели",
        .answered: "Отвечено", .missed: "Пропущено", .uniqueCallers: "Уникальные", .firstTimeCallers: "Новые",
        .avgRing: "Ожидание, с", .talkMinutes: "Разговор, мин", .sales: "Продажи", .revenue: "Выручка", .cost: "Расходы",
        .costPerCall: "Цена звонка", .costPerLead: "Цена лида", .roi: "ROI",
        .total: "Итого", .chartTitle: "Звонки по дням и источникам", .noCalls: "За этот период звонков нет.",
        .time: "Время", .caller: "Звонящий", .duration: "Разговор", .status: "Статус", .recording: "Запись", .any: "Любой",
        .inProgress: "идёт", .newCaller: "новый", .nextPage: "Дальше", .noRecording: "нет записи",
        .noAnswer: "не ответили", .busy: "занято", .cancelled: "звонящий положил трубку", .failed: "ошибка",
        .rejected: "отклонён",
        .phone: "Телефон", .firstCall: "Первый звонок", .noLeads: "За этот период лидов нет.",
        .poolSize: "Номеров в пуле", .liveReservations: "Занято сейчас", .visits: "Визиты за 7 дней", .callsWeek: "Звонки за 7 дней",
        .staticCalls: "Звонки на статический номер за 7 дней", .accuracy: "Точность", .peak: "Больше всего занято сразу",
        .exhausted: "Сколько раз пул кончался", .averageVisit: "Средний визит, с", .reservationSeconds: "Время резерва, с",
        .recommendedReservation: "Рекомендуемое время резерва, с", .planner: "Планировщик",
        .plannerIntro: "Ваши посетители за последние 7 дней, проигранные на пулах другого размера.",
        .visitorsMeasured: "Посетителей проиграно", .servedPercent: "Посетителей с номером", .recommendedPool: "Рекомендуемый пул",
        .currentPool: "сейчас", .quickEstimate: "Быстрая оценка (визиты в день / 100 + 1)",
        .peakEstimate: "Оценка по пику (больше всего сразу × 1,2)", .noVisits: "Визитов пока нет.",
        .poolEnough: "Пула хватает для измеренных посетителей.",
        .snippetTitle: "Код для сайта", .snippetHelp: "Вставьте этот тег на каждую страницу сайта перед </body>.",
        .costsTitle: "Загрузка расходов на рекламу",
        .costsHelp: "CSV с заголовком date,source,medium,campaign,keyword,amount. Строка за тот же день, источник, тип трафика, кампанию и ключевое слово заменяет прежнюю сумму; ошибка в любой строке отменяет всю загрузку.",
        .costsFile: "Файл CSV", .costsImport: "Загрузить", .checkField: "Проверьте поле",
        .deliveries: "Отправки", .deliveriesIntro: "Вебхуки, события аналитики и письма из очереди отправки, новые сверху.",
        .event: "Событие", .endpoint: "Адрес", .attempts: "Попытки", .lastResult: "Последний ответ",
        .nextAttempt: "Следующая попытка", .retry: "Отправить снова", .noDeliveries: "Пока ничего не отправлялось.",
        .retried: "Поставлено в очередь на повторную отправку.",
    ]
}
