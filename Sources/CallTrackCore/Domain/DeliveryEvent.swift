/// What the outbox delivers: the events of calls and sales that webhooks take, and the deliveries of
/// their own that the other channels turn an event into. One type for the configuration, the outbox
/// rows and the sender.
public enum DeliveryEvent: String, Sendable, CaseIterable {
    case callStarted = "call.started"
    case callAnswered = "call.answered"
    case callEnded = "call.ended"
    case callMissed = "call.missed"
    case recordingReady = "recording.ready"
    case saleRecorded = "sale.recorded"
    /// GA4's `phone_call` event for an ended call of a visitor with a Google Analytics client id.
    case ga4PhoneCall = "ga4.phone_call"
    /// A call's row in Metrica's offline calls upload.
    case metricaCall = "metrica.call"
    /// The e-mail about a missed call.
    case emailMissedCall = "email.missed_call"

    /// The events a webhook may take (`projects[].webhooks[].events`; all of them by default).
    public static let webhookEvents: [DeliveryEvent] = [
        .callStarted, .callAnswered, .callEnded, .callMissed, .recordingReady, .saleRecorded,
    ]
}

extension DeliveryEvent: Decodable {
    /// In the configuration: an event a webhook may take, or an error naming the key.
    public init(from decoder: Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let event = Self(rawValue: raw), Self.webhookEvents.contains(event) else {
            throw ConfigError(
                key: ConfigError.path(decoder.codingPath),
                "\"\(raw)\" is not an event; events are \(Self.webhookEvents.map(\.rawValue).joined(separator: ", "))")
        }
        self = event
    }
}

/// Which calls a channel's delivery is made for at all, asked of the stored call when the event is
/// written (a visitor GA4 cannot place gets no GA4 event).
public enum DeliveryCondition: Sendable, Equatable {
    case always
    /// The call's visitor has a Google Analytics client id.
    case visitorHasGAClientID
    /// Metrica can place the call: a visitor with a Metrica client id, or a static or offline number.
    case metricaCanPlaceCall
}
