/// An optional field that a JSON answer writes as `null` when it has no value: the API documents
/// every field of a shape, so a client never has to tell "absent" from "unknown". (Synthesized
/// `Encodable` leaves nil optionals out; fields that may be left out stay plain optionals.)
@propertyWrapper struct Nullable<Value: Encodable & Sendable>: Encodable, Sendable {
    var wrappedValue: Value?

    // Needed: the shapes' memberwise initialisers pass plain optionals through it.
    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}
