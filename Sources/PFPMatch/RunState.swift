import Foundation
import PFPCore
import PFPRules

/// What a run keeps for the next one: the households of the remembered list
/// (watch) with the values `previous(...)` reads, and the push keys (for `status`).
public struct RunState: Sendable {
    public var runDate: CivilDate
    /// The remembered households as they are stored: their count (32 bits), then
    /// their records (`encode`) in the order the match stage visited them (household
    /// ID order). Compact at city scale, where a dictionary per household and per
    /// member would take gigabytes; saved and loaded without a copy. A run's own
    /// records stay in the pieces its workers made (`rememberedPieces`), written one
    /// after another: joining them would copy ~90 MB per million households on the
    /// match's serial path.
    private var rememberedBytes: [UInt8] = [0, 0, 0, 0]
    private var rememberedPieces: [[UInt8]]?
    public private(set) var rememberedCount = 0
    /// A loaded state's records (where `rememberedAt` points).
    private var records: StoredRecords?
    /// The remembered households' ids and where each one's record starts in
    /// `records` (the same order), filled when a state is loaded.
    private var rememberedIDs = KeySet()
    private var rememberedAt: [Int] = []
    /// Keys of the entries of lists with a status column (sorted when saved): a
    /// run's own, or a loaded state's (made from its lookup when asked for).
    public var pushKeys: [String] {
        get { loadedPushKeys ? pushKeyLookup.strings : ownPushKeys }
        set { ownPushKeys = newValue; loadedPushKeys = false }
    }
    private var ownPushKeys: [String] = []
    private var loadedPushKeys = false
    /// The keys for lookups, filled when a state is loaded (read where they lie in
    /// the stored result: no string per key).
    public private(set) var pushKeyLookup = KeySet()

    public init(runDate: CivilDate) { self.runDate = runDate }

    public static let stage = "state"

    /// A list entry's key: list, household, person, policy.
    public static func pushKey(list: String, household: String, person: String, policy: String) -> String {
        list + "," + household + "," + person + "," + policy
    }

    /// One remembered household in its byte form: id, then (index, value) pairs,
    /// then each member (ID key, then its (index, value) pairs); indexes ascending,
    /// members by ID key.
    public static func encode(id: String, _ h: PreviousHousehold, into out: inout [UInt8]) {
        encode(id: id, into: &out) { household, member, personValue in
            for k in h.values.keys.sorted() { household(k, h.values[k]!) }
            for m in h.members.keys.sorted() {
                member(m)
                let mv = h.members[m]!
                for k in mv.keys.sorted() { personValue(k, mv[k]!) }
            }
        }
    }

    /// The current household of `ctx`, its remembered expressions evaluated and
    /// written as they come (the same bytes as encoding `ctx.remember()`).
    public static func encode(id: String, remembering ctx: EvalContext, into out: inout [UInt8]) {
        encode(id: id, into: &out) { household, member, personValue in
            ctx.remember(household: household, member: member, personValue: personValue)
        }
    }

    /// The record's layout, once: `give` hands over the household's values (index
    /// order), then each member (ID order) followed by its values; the counts are
    /// filled in after.
    private static func encode(
        id: String, into out: inout [UInt8],
        _ give: ((Int, Val) -> Void, (UInt64) -> Void, (Int, Val) -> Void) -> Void
    ) {
        func u32(_ x: Int) { withUnsafeBytes(of: UInt32(x).littleEndian) { out.append(contentsOf: $0) } }
        func patch(_ at: Int, _ x: Int) {
            withUnsafeBytes(of: UInt32(x).littleEndian) { out.replaceSubrange(at..<at + 4, with: $0) }
        }
        var id = id
        id.withUTF8 {
            u32($0.count); out.append(contentsOf: $0)
        }
        let valuesAt = out.count
        u32(0)
        var values = 0, membersAt = -1, members = 0, memberValuesAt = -1, memberValues = 0
        give(
            { k, v in
                u32(k); ValCoding.append(v, to: &out); values += 1
            },
            { key in
                if membersAt < 0 { membersAt = out.count; u32(0) } else { patch(memberValuesAt, memberValues) }
                withUnsafeBytes(of: key.littleEndian) { out.append(contentsOf: $0) }
                members += 1
                memberValuesAt = out.count
                memberValues = 0
                u32(0)
            },
            { k, v in
                u32(k); ValCoding.append(v, to: &out); memberValues += 1
            })
        patch(valuesAt, values)
        if membersAt < 0 { u32(0) } else { patch(membersAt, members); patch(memberValuesAt, memberValues) }
    }

    /// Sets the remembered households: pieces of records made by `encode`, in
    /// household order, `count` records in all.
    public mutating func setRemembered(_ pieces: [[UInt8]], count: Int) {
        rememberedPieces = [withUnsafeBytes(of: UInt32(count).littleEndian) { Array($0) }] + pieces
        rememberedBytes = []
        rememberedCount = count
        rememberedIDs = KeySet()
        rememberedAt = []
    }

    /// What the run remembered about a household, nil when it was not on the list.
    public func remembered(_ id: String) -> PreviousHousehold? {
        guard let k = rememberedIDs.index(of: id), let records else { return nil }
        var reader = Reader(bytes: records.bytes, at: rememberedAt[k])
        return reader.household().1
    }

    /// A loaded state's records: where they lie in the stored result (read in place,
    /// kept valid by `keep`), or a copy of their own (results written before aligned items).
    final class StoredRecords: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
        private let keep: AnyObject?
        private let owned: UnsafeMutableBufferPointer<UInt8>?
        init(inPlace bytes: UnsafeBufferPointer<UInt8>, keep: AnyObject) {
            self.bytes = UnsafeRawBufferPointer(bytes); self.keep = keep; owned = nil
        }
        init(owned: UnsafeMutableBufferPointer<UInt8>) {
            bytes = UnsafeRawBufferPointer(owned); keep = nil; self.owned = owned
        }
        deinit { owned?.deallocate() }

        /// Drops the records' pages from the resident set where they are read in
        /// place (they come back from the page cache when read again); a copy of
        /// their own is kept as it is.
        func dropResidentPages() {
            // The whole stored state: the records and the key sets read in place beside them.
            guard owned == nil, let file = keep as? MappedFile else { return }
            file.dropResidentPages()
        }
    }

    /// Lets the records' pages go from memory until they are read again (a loaded
    /// state read in place; nothing for one of its own).
    public func dropResidentPages() { records?.dropResidentPages() }

    /// Reads records of `encode` (little-endian numbers, values as `ValCoding` writes them).
    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var at: Int
        mutating func u32() -> Int {
            defer { at += 4 }
            return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        }
        mutating func u64() -> UInt64 {
            defer { at += 8 }
            return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        }
        mutating func str() -> String {
            let n = u32(); defer { at += n }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[at..<at + n]), as: UTF8.self)
        }
        mutating func value() -> Val {
            let k = bytes[at]
            at += 1
            let a = Int64(bitPattern: u64()), b = Int64(bitPattern: u64())
            return ValCoding.decode(k, a, b) ?? .unknownNoFacts
        }
        mutating func household() -> (String, PreviousHousehold) {
            let id = str()
            var values: [Int: Val] = [:]
            for _ in 0..<u32() { let k = u32(); values[k] = value() }
            var members: [UInt64: [Int: Val]] = [:]
            for _ in 0..<u32() {
                let m = u64()
                var mv: [Int: Val] = [:]
                for _ in 0..<u32() { let k = u32(); mv[k] = value() }
                members[m] = mv
            }
            return (id, PreviousHousehold(values: values, members: members))
        }
        /// Passes over one record, returning where its id's bytes are.
        mutating func skip() -> Range<Int> {
            let n = u32()
            let id = at..<at + n
            at += n
            for _ in 0..<u32() { at += 4 + 17 }
            for _ in 0..<u32() {
                at += 8
                for _ in 0..<u32() { at += 4 + 17 }
            }
            return id
        }
    }

    public func save(to store: StageStore) throws {
        try store.save(runDate: runDate, stage: RunState.stage, blobs: blobs())
    }

    /// The state as it is stored.
    public func blobs() -> BlobWriter {
        var w = BlobWriter()
        if let pieces = rememberedPieces {
            w.put("remembered", pieces: pieces)
        } else if let records {
            // A loaded state written again: its records as they are (valid while this state lives).
            w.put("remembered", records.bytes)
        } else {
            w.put("remembered", rememberedBytes)
        }
        // The workers collect them in list and ID order: usually sorted already.
        w.putStrings(
            "push_keys", zip(pushKeys, pushKeys.dropFirst()).allSatisfy { $0 <= $1 } ? pushKeys : pushKeys.sorted())
        return w
    }

    public static func load(from store: StageStore, runDate: CivilDate) throws -> RunState? {
        guard let r = try store.load(runDate: runDate, stage: stage) else { return nil }
        var s = RunState(runDate: runDate)
        // Read in place where the result's items are aligned (no copy of ~90 MB per
        // million households): the pages are dropped once the index is made, and
        // come back from the page cache for the households looked up.
        let records =
            r.itemsAligned
            ? StoredRecords(inPlace: try r.inPlace("remembered"), keep: r.mapping)
            : StoredRecords(owned: try r.buffer("remembered"))
        if records.bytes.count >= 4 {
            var reader = Reader(bytes: records.bytes, at: 0)
            let n = reader.u32()
            s.rememberedCount = n
            var idStart: [Int] = [], idLength: [Int32] = []
            idStart.reserveCapacity(n)
            idLength.reserveCapacity(n)
            s.rememberedAt.reserveCapacity(n)
            for _ in 0..<n {
                s.rememberedAt.append(reader.at)
                let id = reader.skip()
                idStart.append(id.lowerBound)
                idLength.append(Int32(id.count))
            }
            // The ids where they lie in the records.
            s.rememberedIDs = KeySet(bytes: records.bytes, keep: records, start: idStart, length: idLength)
        }
        s.records = records
        s.rememberedBytes = []
        r.dropPages("remembered")
        s.pushKeyLookup = KeySet(joined: try r.column("push_keys"))
        s.loadedPushKeys = true
        r.dropPages("push_keys")
        return s
    }
}
