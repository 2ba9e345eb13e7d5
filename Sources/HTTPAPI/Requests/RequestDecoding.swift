import CallTrackCore
import Foundation
import Hummingbird

extension Request {
    /// The whole body, or 413 when it is over `limit` bytes.
    mutating func body(upTo limit: Int) async throws -> ByteBuffer {
        do { return try await collectBody(upTo: limit) } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the body is over \(limit) bytes")
        }
    }

    /// The body as `T`: the one way a JSON body is read. Over `limit` bytes → 413; not a JSON object
    /// → 400 `invalid_json`; a field missing, of the wrong type or out of bounds → 400 naming it
    /// (`rows[1].amount`), through `RequestBody.decode`.
    mutating func decode<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        try RequestBody.decode(T.self, from: Data(buffer: try await body(upTo: limit)))
    }
}

/// Reads request bodies into `Decodable` structs, and turns a decoding error's coding path into the
/// API's `400 {"error": {"field": …}}`.
enum RequestBody {
    private static let decoder = JSONDecoder()

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do { return try decoder.decode(T.self, from: data) } catch let error as DecodingError { throw apiError(error) }
    }

    /// `rows[1].amount` for a coding path.
    static func field(_ path: [CodingKey]) -> String { ConfigError.path(path) }

    static func apiError(_ error: DecodingError) -> APIError {
        let invalidJSON = APIError(.badRequest, code: "invalid_json", message: "the body must be a JSON object")
        switch error {
        case .keyNotFound(let key, let context):
            let name = field(context.codingPath + [key])
            return .badRequest(field: name, "\(name) is required")
        case .valueNotFound(_, let context) where !context.codingPath.isEmpty:
            let name = field(context.codingPath)
            return .badRequest(field: name, "\(name) is required")
        case .typeMismatch(let type, let context) where !context.codingPath.isEmpty:
            let name = field(context.codingPath)
            return .badRequest(field: name, "\(name) must be \(describe(type))")
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            let name = field(context.codingPath)
            return .badRequest(field: name, "\(name) is not valid: \(context.debugDescription)")
        default: return invalidJSON
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Double.Type, is Int.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)".hasPrefix("Array") ? "a list" : "an object"
        }
    }
}

extension KeyedDecodingContainer {
    /// A bounded text field: nil when absent, null or empty; 400 naming it when over `maxBytes` or not
    /// kept by `valid` (whose words are `problem`).
    func text(
        _ key: Key, maxBytes: Int, required: Bool = false, problem: String? = nil,
        _ valid: (String) -> Bool = { _ in true }
    ) throws -> String? {
        // The field's name is spelt only for an error: a reservation reads a dozen fields per request.
        func name() -> String { RequestBody.field(codingPath + [key]) }
        guard let value = try decodeIfPresent(String.self, forKey: key), !value.isEmpty else {
            if required { throw APIError.badRequest(field: name(), "\(name()) is required") }
            return nil
        }
        guard value.utf8.count <= maxBytes else {
            throw APIError.badRequest(field: name(), "\(name()) is longer than \(maxBytes) bytes")
        }
        guard valid(value) else { throw APIError.badRequest(field: name(), problem ?? "\(name()) is not valid") }
        return value
    }

    func number(_ key: Key, problem: String, _ valid: (Double) -> Bool) throws -> Double {
        guard let value = try? decode(Double.self, forKey: key), (try? decode(Bool.self, forKey: key)) == nil,
            valid(value)
        else { throw APIError.badRequest(field: RequestBody.field(codingPath + [key]), problem) }
        return value
    }
}
