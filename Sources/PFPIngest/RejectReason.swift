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

    /// What the department should check, for the data-quality feedback (feeds.md's words).
    public var meaning: String {
        switch self {
        case .malformedRow: return "unbalanced quotes or the wrong number of fields"
        case .missingField: return "a required field is empty"
        case .badID: return "the ID number's format or check character is wrong"
        case .unknownPerson: return "the ID number is not in the population registry's delivery"
        case .duplicateID: return "the same ID number is delivered more than once"
        case .badDate: return "a date that does not exist or is not YYYY-MM-DD"
        case .futureAsOf: return "as_of is after the delivery's as_of"
        case .unknownEnum: return "sex, relation or hukou is not one of the contract's words"
        case .badCode: return "a district, street or community code of the wrong form"
        case .badHouseholdID: return "the household ID is not of the contract's form"
        case .unknownTag: return "the tag is not in the catalogue"
        case .foreignTag: return "the tag belongs to another department's feed"
        case .badValue: return "the value does not parse as the tag's type"
        case .outOfRange: return "the value is outside the tag's range (negative money included)"
        }
    }

    public static func < (a: RejectReason, b: RejectReason) -> Bool { a.rawValue < b.rawValue }
}

/// One rejected record: where it starts and why. Never its content.
public struct Reject: Sendable, Equatable {
    public var line: Int32
    public var reason: RejectReason
    public init(line: Int32, reason: RejectReason) { self.line = line; self.reason = reason }
}
