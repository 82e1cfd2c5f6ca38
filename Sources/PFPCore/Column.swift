/// A column of fixed-size values read by index: an array's storage (what a stage
/// makes), or an item of a stored result read in place from its file (what a
/// later run reads back: no copy, no fresh memory; its pages come from the page
/// cache as they are read). Nothing changes a column once made.
public struct Column<Element: BitwiseCopyable>: RandomAccessCollection, @unchecked Sendable {
    public let buffer: UnsafeBufferPointer<Element>
    /// What keeps `buffer` valid: the array's storage, or the mapped file.
    private let owner: AnyObject?

    /// The array's elements (its storage is kept, not copied).
    public init(_ array: [Element]) {
        let kept = Kept(array)
        owner = kept
        buffer = kept.buffer
    }

    /// An item read in place, valid while `owner` lives.
    public init(inPlace buffer: UnsafeBufferPointer<Element>, owner: AnyObject) {
        self.buffer = buffer
        self.owner = owner
    }

    public init() { self.init([]) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { buffer.count }

    /// Checked as an array's subscript is: an index out of range stops the run.
    @inline(__always) public subscript(i: Int) -> Element {
        precondition(UInt(bitPattern: i) < UInt(buffer.count), "Column index out of range")
        return buffer[i]
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        try body(buffer)
    }

    /// The elements as an array (a copy).
    public var array: [Element] { Array(buffer) }

    /// An array kept for a column: its storage never moves (nothing mutates it,
    /// and this holds it), so the address taken once stays valid while it lives.
    private final class Kept {
        let array: [Element]
        let buffer: UnsafeBufferPointer<Element>
        init(_ a: [Element]) {
            array = a
            buffer = array.withUnsafeBufferPointer { $0 }
        }
    }
}

extension Column: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: Element...) { self.init(elements) }
}

extension Column: Equatable where Element: Equatable {
    public static func == (a: Column, b: Column) -> Bool { a.elementsEqual(b) }
}

extension Column: CustomStringConvertible {
    public var description: String { array.description }
}
