import Foundation

/// A calendar date (proleptic Gregorian), stored as days since 1970-01-01.
///
/// Dates in feeds are `YYYY-MM-DD`; ages and staleness are exact day arithmetic,
/// never floating point and never time zones.
public struct CivilDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var days: Int32

    public init(days: Int32) { self.days = days }

    /// nil when the date does not exist (2023-02-30) or the year is outside 1..9999.
    public init?(year: Int, month: Int, day: Int) {
        guard CivilDate.exists(year: year, month: month, day: day) else { return nil }
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        self.days = Int32(era * 146097 + doe - 719468)
    }

    /// Whether the date exists (and the year is within 1..9999).
    @inline(__always)
    public static func exists(year: Int, month: Int, day: Int) -> Bool {
        year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1
            && day <= daysInMonth(year: year, month: month)
    }

    public static func isLeap(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// (year, month, day), Hinnant's civil_from_days.
    public var components: (year: Int, month: Int, day: Int) {
        let z = Int(days) + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// Parses exactly `YYYY-MM-DD` from bytes; nil for any other shape or a date that does not exist.
    @inlinable
    public static func parse(_ b: UnsafeRawBufferPointer) -> CivilDate? {
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
        @inline(__always) func digits(_ start: Int, _ len: Int) -> Int? {
            var n = 0
            for i in start..<(start + len) {
                let c = b[i] &- UInt8(ascii: "0")
                if c > 9 { return nil }
                n = n * 10 + Int(c)
            }
            return n
        }
        guard let y = digits(0, 4), let m = digits(5, 2), let d = digits(8, 2) else { return nil }
        return CivilDate(year: y, month: m, day: d)
    }

    /// `parse` for many fields that repeat a few dates (a feed's `as_of`): the
    /// last dates seen, by their ten bytes, in a small direct-mapped table.
    public struct ParseCache {
        /// A date's ten bytes (eight and two) and its day number; empty entries hold 0.
        private struct Entry { var head: UInt64 = 0, tail: UInt16 = 0, days: Int32 = 0 }
        private var entries = [Entry](repeating: Entry(), count: 64)
        public init() {}

        /// The same as `CivilDate.parse(b)`.
        @inline(__always)
        public mutating func parse(_ b: UnsafeRawBufferPointer) -> CivilDate? {
            guard b.count == 10 else { return CivilDate.parse(b) }
            let head = b.loadUnaligned(as: UInt64.self), tail = b.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
            let slot = Int(truncatingIfNeeded: ((head ^ UInt64(tail) &* 0x9E37_79B9) &* 0x9E37_79B9_7F4A_7C15) >> 58)
            let e = entries[slot]
            // a date's bytes are never 0
            if head != 0 && e.head == head && e.tail == tail { return CivilDate(days: e.days) }
            guard let d = CivilDate.parse(b) else { return nil }
            entries[slot] = Entry(head: head, tail: tail, days: d.days)
            return d
        }
    }

    public static func parse(_ s: String) -> CivilDate? {
        var s = s
        return s.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// Whole years from `self` (a birth date) to `date`. Someone born on
    /// 29 February turns a year older on 1 March in common years.
    public func age(on date: CivilDate) -> Int {
        let b = components, d = date.components
        var years = d.year - b.year
        if (d.month, d.day) < (b.month, b.day) { years -= 1 }
        return years
    }

    public func adding(days n: Int) -> CivilDate { CivilDate(days: days + Int32(n)) }

    /// YYYY-MM-DD, formatted by hand (String(format:) goes through Foundation and is slow).
    public var description: String {
        String(unsafeUninitializedCapacity: 10) {
            writeText(to: $0.baseAddress!); return 10
        }
    }

    /// The 10 characters of `description` at `out`: the one place the text is made,
    /// for the hot writers (explanations) as for `description`.
    public func writeText(to out: UnsafeMutablePointer<UInt8>) {
        let c = components
        var y = c.year
        for i in stride(from: 3, through: 0, by: -1) {
            out[i] = UInt8(truncatingIfNeeded: y % 10) + UInt8(ascii: "0"); y /= 10
        }
        out[4] = UInt8(ascii: "-"); out[5] = UInt8(c.month / 10) + UInt8(ascii: "0");
        out[6] = UInt8(c.month % 10) + UInt8(ascii: "0")
        out[7] = UInt8(ascii: "-"); out[8] = UInt8(c.day / 10) + UInt8(ascii: "0");
        out[9] = UInt8(c.day % 10) + UInt8(ascii: "0")
    }

    public static func < (a: CivilDate, b: CivilDate) -> Bool { a.days < b.days }

    /// Today's date in the machine's local time zone (the run date of a nightly job).
    /// The date in a time zone at an instant (a bureau's "today" whatever the
    /// server's zone: at 01:30 in Shanghai a server on UTC is still on the day before).
    public static func today(in zone: TimeZone, at instant: Date = Date()) -> CivilDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day], from: instant)
        return CivilDate(year: c.year!, month: c.month!, day: c.day!)!
    }

    /// Today in the server's zone (`TZ`, else the system's).
    public static func today() -> CivilDate {
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        return CivilDate(year: Int(tmv.tm_year) + 1900, month: Int(tmv.tm_mon) + 1, day: Int(tmv.tm_mday))!
    }
}
