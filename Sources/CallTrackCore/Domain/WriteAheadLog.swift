/// A change with its place in the order of all changes of its kind.
public struct Numbered<Value: Sendable>: Sendable {
    public let number: UInt64
    public let value: Value

    public init(number: UInt64, value: Value) {
        self.number = number
        self.value = value
    }
}

extension Numbered: Codable where Value: Codable {}
extension Numbered: Equatable where Value: Equatable {}

/// Where changes are written, in order, before the database has them (Storage's `Journal`).
public protocol WriteAheadLog<Entry>: Sendable {
    associatedtype Entry: Sendable
    /// Called in order, on the producer's thread: must not block for long.
    func append(_ entry: Numbered<Entry>)
}
