import Foundation
import PFPCore

/// Why an input record was rejected (feeds.md, "Reject reasons"). The order of
/// the cases is the contract's order: a record gets the first that applies.
public enum RejectReason: UInt8, Spelled, Comparable, Sendable {
    case malformedRow
    case missingField
    case badID
    case unknownPerson
    case duplicateID
    case badDate
    case futureAsOf
    case unknownEnum
    case badCode
    case badHouseholdID
    case unknownTag
    case foreignTag
    case badValue
    case outOfRange

    public var code: String {
        switch self {
        case .malformedRow: return "malformed_row"
        case .missingField: return "missing_field"
        case .badID: return "bad_id"
        case .unknownPerson: return "unknown_person"
        case .duplicateID: return "duplicate_id"
        case .badDate: return "bad_date"
        case .futureAsOf: return "future_as_of"
        case .unknownEnum: return "unknown_enum"
        case .badCode: return "bad_code"
        case .badHouseholdID: return "bad_household_id"
        case .unknownTag: return "unknown_tag"
        case .foreignTag: return "foreign_tag"
        case .badValue: return "bad_value"
        case .outOfRange: return "out_of_range"
        }
    }

    public var spelling: String { code }

    public static func < (a: RejectReason, b: RejectReason) -> Bool { a.rawValue < b.rawValue }
}

/// One rejected record: where it starts and why. Never its content.
public struct Reject: Sendable, Equatable {
    public var line: Int32
    public var reason: RejectReason
    public init(line: Int32, reason: RejectReason) { self.line = line; self.reason = reason }
}
