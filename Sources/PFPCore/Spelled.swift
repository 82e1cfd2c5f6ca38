/// An enumeration whose every case has one spelling in a file format (a
/// contract's code, a name of the rule language): written by `spelling`, read
/// back by `init?(spelling:)`, so that the two cannot disagree.
public protocol Spelled: CaseIterable {
    var spelling: String { get }
}

extension Spelled {
    /// The case spelled so; nil for any other text.
    public init?(spelling: String) {
        guard let c = Self.allCases.first(where: { $0.spelling == spelling }) else { return nil }
        self = c
    }
}
