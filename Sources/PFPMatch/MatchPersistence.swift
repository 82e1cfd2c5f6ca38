import Foundation
import PFPCore
import PFPFormats
import PFPRules

/// The match stage's result kept in the database, so `pfp stage emit` can publish again.
public extension MatchResult {
    static let stage = "match"

    /// The result as it is stored: the entries' columns, counts and the explanations' file.
    func blobs() -> BlobWriter {
        var w = BlobWriter()
        // The text columns (strings joined with NUL, as `BlobWriter.putStrings`
        // writes them), each encoded on its own (in parallel) as bytes, straight from
        // the entries: names from per-run pieces, ID numbers as their digits.
        let entries = self.entries
        let names = ["list", "household_id", "person_id", "policy", "certainty", "status", "codes"]
        let listText = listIDs.map { Array($0.utf8) }, policyText = policyIDs.map { Array($0.utf8) }
        var encoded = [[UInt8]](repeating: [], count: names.count)
        encoded.withUnsafeMutableBufferPointer { out in
            entries.withUnsafeBufferPointer { e in
                Parallel.forEach(names.count) { i in
                    out[i] = MatchResult.joined(e.count) { k, w in
                        let x = e[k]
                        switch i {
                        case 0: listText[Int(x.list)].withUnsafeBufferPointer { w.append($0) }
                        case 1: w.rawString(householdIDs[Int(x.household)])
                        case 2: if x.personKey != 0 { w.idDigits(x.personKey) }
                        case 3: if x.policy >= 0 { policyText[Int(x.policy)].withUnsafeBufferPointer { w.append($0) } }
                        case 4:
                            PublishedEntry.certaintyUTF8[Int(x.certainty.rawValue)].withUnsafeBufferPointer {
                                w.append($0)
                            }
                        case 5:
                            PublishedEntry.statusUTF8[Int(x.status.rawValue)].withUnsafeBufferPointer { w.append($0) }
                        default:
                            for (c, code) in codes(x).enumerated() {
                                if c > 0 { w.byte(UInt8(ascii: ";")) }
                                w.rawString(code)
                            }
                        }
                    }
                }
            }
        }
        for i in 0..<5 { w.put(names[i], encoded[i]) }
        w.put("amount", entries.map(\.amountValue))
        w.put(names[5], encoded[5])
        w.put(names[6], encoded[6])
        w.put("district", entries.map(\.district))
        w.put("street", entries.map(\.street))
        w.put("community", entries.map(\.community))
        w.put("outcome", entries.map(\.outcome))
        w.put("outcome_date", entries.map(\.outcomeDate))
        w.put("until", entries.map(\.until))
        w.put("counts", [Int64(households), Int64(people)])
        w.putStrings(
            "outreach_events",
            outreach.events.keys.sorted().map { k in
                k + "=" + outreach.events[k]!.map(String.init).joined(separator: " ")
            })
        w.putStrings(
            "outreach_granted_receiving",
            outreach.grantedReceiving.keys.sorted().map { "\($0)=\(outreach.grantedReceiving[$0]!)" })
        // The entries' numbers as they are (a what-if reads them back without parsing
        // the text columns, which stay what `pfp stage emit` and older readers read).
        w.put("entry.household", count: entries.count) { entries[$0].household }
        w.put("entry.person", count: entries.count) { entries[$0].personKey }
        w.put("entry.list", count: entries.count) { entries[$0].list }
        w.put("entry.policy", count: entries.count) { entries[$0].policy }
        w.put("entry.certainty", count: entries.count) { entries[$0].certainty.rawValue }
        w.put("entry.status", count: entries.count) { entries[$0].status.rawValue }
        w.putStrings("entry.list_ids", listIDs)
        w.putStrings("entry.policy_ids", policyIDs)
        w.put("explain", BlobWriter.joined(2) { $0 == 0 ? explainPath ?? "" : explainSHA })
        w.put("explain_counts", [Int64(explainRows), Int64(explainBytes)])
        return w
    }

    /// `count` fields joined with NUL (the encoding of `BlobWriter.putStrings`),
    /// each written by `field` as bytes.
    internal static func joined(_ count: Int, _ field: (Int, ByteWriter) -> Void) -> [UInt8] {
        let w = ByteWriter(capacity: count * 12)
        for k in 0..<count {
            if k > 0 { w.byte(0) }
            field(k, w)
        }
        return w.out
    }

    static func load(from store: StageStore, runDate: CivilDate) throws -> MatchResult {
        guard let r = try store.load(runDate: runDate, stage: stage) else {
            throw PipelineError.badInput(
                stage: "emit", "no match result for \(runDate)",
                hint: "run 'pfp stage match --run-date \(runDate)' first")
        }
        let list = try r.strings("list"), hh = try r.strings("household_id"), person = try r.strings("person_id")
        let policy = try r.strings("policy"), certainty = try r.strings("certainty"), status = try r.strings("status")
        let codes = try r.strings("codes")
        let explain = try r.strings("explain"), explainCounts: [Int64] = try r.get("explain_counts")
        let amount: [Int64] = try r.get("amount"), district: [Int32] = try r.get("district"),
            street: [Int32] = try r.get("street")
        let community: [Int64] = try r.get("community"), counts: [Int64] = try r.get("counts")
        let n = amount.count
        // Results stored before schema version 2 have no outreach columns.
        let outcome: [UInt8] =
            r.has("outcome") ? try r.get("outcome") : .init(repeating: PublishedEntry.noOutcome, count: n)
        let outcomeDate: [Int32] = r.has("outcome_date") ? try r.get("outcome_date") : .init(repeating: 0, count: n)
        let until: [Int32] = r.has("until") ? try r.get("until") : .init(repeating: 0, count: n)
        guard
            [
                list.count, hh.count, person.count, policy.count, certainty.count, status.count, codes.count,
                district.count, street.count, community.count, outcome.count, outcomeDate.count, until.count,
            ]
            .allSatisfy({ $0 == n || n == 0 })
        else { throw r.damaged("entries") }
        // Names back to numbers: lists and policies by first appearance, one household slot per entry.
        var listIDs: [String] = [], policyIDs: [String] = [], codeStore: [String] = []
        var listIndex: [String: Int32] = [:], policyIndex: [String: Int32] = [:]
        var entries: [PublishedEntry] = []
        entries.reserveCapacity(n)
        for i in 0..<n {
            let l =
                listIndex[list[i]]
                ?? {
                    listIDs.append(list[i]); listIndex[list[i]] = Int32(listIDs.count - 1);
                    return Int32(listIDs.count - 1)
                }()
            var p: Int32 = -1
            if !policy[i].isEmpty {
                p =
                    policyIndex[policy[i]]
                    ?? {
                        policyIDs.append(policy[i]); policyIndex[policy[i]] = Int32(policyIDs.count - 1);
                        return Int32(policyIDs.count - 1)
                    }()
            }
            var key: UInt64 = 0
            if !person[i].isEmpty {
                guard let id = IDNumber(stored: person[i]) else { throw r.damaged("person_id") }
                key = id.key
            }
            let start = Int32(codeStore.count)
            if !codes[i].isEmpty { codeStore.append(contentsOf: codes[i].split(separator: ";").map(String.init)) }
            entries.append(
                PublishedEntry(
                    list: l, household: Int32(i), policy: p, certainty: .init(text: certainty[i]),
                    status: .init(text: status[i]),
                    personKey: key, amountValue: amount[i], codeStart: start, codeCount: Int32(codeStore.count) - start,
                    district: district[i], street: street[i], community: community[i], outcome: outcome[i],
                    outcomeDate: outcomeDate[i], until: until[i]))
        }
        var m = MatchResult(
            entries: entries, listIDs: listIDs, householdIDs: hh, policyIDs: policyIDs, codes: codeStore,
            state: RunState(runDate: runDate), households: Int(counts[0]), people: Int(counts[1]))
        if r.has("outreach_events") {
            for line in try r.strings("outreach_events") where !line.isEmpty {
                let kv = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard kv.count == 2 else { throw r.damaged("outreach_events") }
                m.outreach.events[String(kv[0])] = kv[1].split(separator: " ").compactMap { Int($0) }
            }
            for line in try r.strings("outreach_granted_receiving") where !line.isEmpty {
                let kv = line.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, let n = Int(kv[1]) else { throw r.damaged("outreach_granted_receiving") }
                m.outreach.grantedReceiving[String(kv[0])] = n
            }
        }
        if let p = explain.first, !p.isEmpty {
            m.explainPath = p
            m.explainSHA = explain.count > 1 ? explain[1] : ""
            m.explainBytes = Int(explainCounts[1])
            m.explainRows = Int(explainCounts[0])
        }
        return m
    }
}

/// The NUL-separated fields of a stored text column, one after another.
struct FieldCursor {
    let bytes: UnsafeRawBufferPointer
    var at = 0
    init(_ b: UnsafeRawBufferPointer, at: Int = 0) { bytes = b; self.at = at }

    /// Where field `fields[k]` starts in `b` (fields in increasing order; past the
    /// end for a field beyond the last): separators counted with memchr.
    static func offsets(_ b: UnsafeRawBufferPointer, ofFields fields: [Int]) -> [Int] {
        var out: [Int] = [], field = 0, at = 0
        for f in fields {
            while field < f && at <= b.count {
                if at == b.count {
                    at += 1
                } else if let nul = memchr(b.baseAddress! + at, 0, b.count - at) {
                    at = b.baseAddress!.distance(to: UnsafeRawPointer(nul)) + 1
                } else {
                    at = b.count + 1
                }
                field += 1
            }
            out.append(at)
        }
        return out
    }
    /// The next field (empty past the end).
    mutating func next() -> UnsafeRawBufferPointer {
        let start = at
        var i = at
        while i < bytes.count && bytes[i] != 0 { i += 1 }
        at = i + 1
        return UnsafeRawBufferPointer(rebasing: bytes[min(start, bytes.count)..<min(i, bytes.count)])
    }
}

public extension MatchResult {
    /// The stored result of a run read back for `pfp whatif`: the entries in the
    /// index space of that run's stored ingest result (`householdIDs`, the same
    /// array: no string per entry) and of `rules` (lists and policies by id), each
    /// distinct code one string. Fields are read from the stored bytes as they are:
    /// the entries' keys from their stored numbers (`numberKeys`), or, in results
    /// stored before those were kept, from their text (`textKeys`).
    /// `pieceEntries`: the entries read by one task (tests make it small).
    static func loadEntries(
        from store: StageStore, runDate: CivilDate, rules: RuleSet, householdIDs: [String],
        pieceEntries: Int = 32_768
    ) throws -> MatchResult {
        guard let r = try store.load(runDate: runDate, stage: stage) else {
            throw PipelineError.badInput(
                stage: "whatif", "no match result for \(runDate)",
                hint: "run 'pfp stage match --run-date \(runDate)' first")
        }
        let amount: Column<Int64> = try r.column("amount"), district: Column<Int32> = try r.column("district")
        let street: Column<Int32> = try r.column("street"), community: Column<Int64> = try r.column("community")
        let counts: [Int64] = try r.get("counts")
        let n = amount.count
        let outcome: Column<UInt8> =
            r.has("outcome")
            ? try r.column("outcome") : Column(.init(repeating: PublishedEntry.noOutcome, count: n))
        let outcomeDate: Column<Int32> =
            r.has("outcome_date") ? try r.column("outcome_date") : Column(.init(repeating: 0, count: n))
        let until: Column<Int32> = r.has("until") ? try r.column("until") : Column(.init(repeating: 0, count: n))
        guard district.count == n, street.count == n, community.count == n, outcome.count == n,
            outcomeDate.count == n, until.count == n, counts.count == 2
        else { throw r.damaged("entries") }
        let numbered = r.has("entry.household")
        let number = numbered ? try NumberKeys(r, count: n, rules: rules, householdIDs: householdIDs) : nil
        // In pieces on every core where the keys are stored as numbers (each piece's
        // first field of the text columns found by counting separators); keys
        // stored as text (results from before) are read in one piece, in order.
        let pieces = numbered ? max(1, min(n / max(1, pieceEntries), 16)) : 1
        let bounds = (0...pieces).map { n * $0 / pieces }
        let codeBytes = try r.bytes("codes")
        let codeAt = FieldCursor.offsets(codeBytes, ofFields: bounds)
        let householdAt = number.map { FieldCursor.offsets($0.householdText, ofFields: bounds) }
        var pieceCodes = [[String]](repeating: [], count: pieces)
        var failures = [Error?](repeating: nil, count: pieces)
        // Every fourth piece done, the pages read so far go (the pieces are taken in
        // order: one still being read reads its own again, the later ones later pages).
        let behind = EveryNth(4) { r.dropAllPages() }
        var entries = [PublishedEntry](unsafeUninitializedCapacity: n) { buffer, initialized in
            pieceCodes.withUnsafeMutableBufferPointer { codesOut in
                failures.withUnsafeMutableBufferPointer { failed in
                    Parallel.forEach(pieces) { k in
                        defer { behind.tick() }
                        var codeText = FieldCursor(codeBytes, at: codeAt[k])
                        var codes: [String] = [], vocabulary = CodeVocabulary()
                        do {
                            var keys: (Int) throws -> EntryKeys
                            if var nk = number {
                                nk.household.at = householdAt![k]
                                keys = { i in try nk.keys(i) }
                            } else {
                                keys = try textKeys(r, rules: rules, householdIDs: householdIDs)
                            }
                            for i in bounds[k]..<bounds[k + 1] {
                                let key = try keys(i)
                                let start = Int32(codes.count)
                                vocabulary.codes(of: codeText.next(), into: &codes)
                                (buffer.baseAddress! + i).initialize(
                                    to: PublishedEntry(
                                        list: key.list, household: key.household, policy: key.policy,
                                        certainty: key.certainty, status: key.status, personKey: key.person,
                                        amountValue: amount[i], codeStart: start, codeCount: Int32(codes.count) - start,
                                        district: district[i], street: street[i], community: community[i],
                                        outcome: outcome[i], outcomeDate: outcomeDate[i], until: until[i]))
                            }
                        } catch {
                            failed[k] = error
                        }
                        codesOut[k] = codes
                    }
                }
            }
            // Entries are plain values: those of a piece that failed are never read.
            initialized = n
        }
        if let failure = failures.compactMap({ $0 }).first { throw failure }
        // Each piece's code ranges moved past the codes of the pieces before it.
        var codes: [String] = []
        codes.reserveCapacity(pieceCodes.reduce(0) { $0 + $1.count })
        for k in 0..<pieces {
            let base = Int32(codes.count)
            if base > 0 { for i in bounds[k]..<bounds[k + 1] { entries[i].codeStart += base } }
            codes.append(contentsOf: pieceCodes[k])
        }
        return MatchResult(
            entries: entries, listIDs: rules.lists.map(\.id), householdIDs: householdIDs,
            policyIDs: rules.policies.map(\.id), codes: codes, state: RunState(runDate: runDate),
            households: Int(counts[0]), people: Int(counts[1]))
    }
}

/// A stored entry's keys read back: its list and policy (-1: none) in the rules'
/// order, its household in the stored ingest result's, its person (0: none).
struct EntryKeys {
    var list: Int32, household: Int32, policy: Int32, person: UInt64
    var certainty: Certainty, status: PublishedEntry.EntryStatus
}

/// The entries' keys from their stored numbers, entry by entry: lists and
/// policies mapped by id into the rules, each household number checked against
/// the household id's text (read in order from `household`'s place).
struct NumberKeys {
    let r: BlobReader
    let entryHousehold: Column<Int32>, person: Column<UInt64>, list: Column<Int32>, policy: Column<Int32>
    let certainty: Column<UInt8>, status: Column<UInt8>
    let listMap: [Int], policyMap: [Int]
    let householdIDs: [String]
    let householdText: UnsafeRawBufferPointer
    var household: FieldCursor

    init(_ r: BlobReader, count n: Int, rules: RuleSet, householdIDs: [String]) throws {
        self.r = r
        entryHousehold = try r.column("entry.household")
        person = try r.column("entry.person")
        list = try r.column("entry.list")
        policy = try r.column("entry.policy")
        certainty = try r.column("entry.certainty")
        status = try r.column("entry.status")
        guard entryHousehold.count == n, person.count == n, list.count == n, policy.count == n,
            certainty.count == n, status.count == n
        else { throw r.damaged("entry") }
        listMap = try r.strings("entry.list_ids").map { id in rules.lists.firstIndex { $0.id == id } ?? -1 }
        policyMap = try r.strings("entry.policy_ids").map { id in rules.policies.firstIndex { $0.id == id } ?? -1 }
        self.householdIDs = householdIDs
        householdText = try r.bytes("household_id")
        household = FieldCursor(householdText)
    }

    /// Entry i's keys; the household text read is the cursor's next field.
    mutating func keys(_ i: Int) throws -> EntryKeys {
        let h = Int(entryHousehold[i]), l = Int(list[i]), p = Int(policy[i])
        guard h >= 0, h < householdIDs.count, l >= 0, l < listMap.count, listMap[l] >= 0, p < policyMap.count,
            p < 0 || policyMap[p] >= 0
        else { throw r.damaged("entry") }
        // The household the number names must be the one the text names.
        let text = household.next()
        var id = householdIDs[h]
        guard id.withUTF8({ text.elementsEqual($0) }) else { throw r.damaged("entry.household") }
        return EntryKeys(
            list: Int32(listMap[l]), household: Int32(h), policy: p < 0 ? -1 : Int32(policyMap[p]),
            person: person[i], certainty: Certainty(rawValue: certainty[i]) ?? .none,
            status: PublishedEntry.EntryStatus(rawValue: status[i]) ?? .none)
    }
}

extension MatchResult {
    /// The entries' keys from their text columns, entry by entry in order: lists
    /// and policies by id, each household found among the stored ingest result's
    /// ids (galloping forward: a list's entries come in household order).
    static func textKeys(
        _ r: BlobReader, rules: RuleSet, householdIDs ids: [String]
    ) throws -> (Int) throws -> EntryKeys {
        var list = FieldCursor(try r.bytes("list")), hh = FieldCursor(try r.bytes("household_id"))
        var person = FieldCursor(try r.bytes("person_id")), policy = FieldCursor(try r.bytes("policy"))
        var certainty = FieldCursor(try r.bytes("certainty")), status = FieldCursor(try r.bytes("status"))
        func same(_ b: UnsafeRawBufferPointer, _ s: [UInt8]) -> Bool { b.elementsEqual(s) }
        let listText = rules.lists.map { Array($0.id.utf8) }, policyText = rules.policies.map { Array($0.id.utf8) }
        let certaintyWords = PublishedEntry.certaintyUTF8, statusWords = PublishedEntry.statusUTF8
        func order(_ b: UnsafeRawBufferPointer, _ i: Int) -> Int {
            var id = ids[i]
            return id.withUTF8 { x in
                let k = min(b.count, x.count)
                let c = k == 0 ? 0 : memcmp(b.baseAddress!, x.baseAddress!, k)
                return c != 0 ? Int(c) : b.count - x.count
            }
        }
        var lastList = -1, lastHousehold = 0, lastPolicy = -1
        return { _ in
            let lb = list.next()
            if lastList < 0 || !same(lb, listText[lastList]) {
                guard let l = listText.firstIndex(where: { same(lb, $0) }) else { throw r.damaged("list") }
                lastList = l
                lastHousehold = 0
            }
            let hb = hh.next()
            var lo = lastHousehold, step = 1
            while lo + step < ids.count && order(hb, lo + step) > 0 { lo += step; step *= 2 }
            var hi = min(ids.count, lo + step + 1)
            while lo < hi { let mid = (lo + hi) / 2; if order(hb, mid) > 0 { lo = mid + 1 } else { hi = mid } }
            guard lo < ids.count, order(hb, lo) == 0 else { throw r.damaged("household_id") }
            lastHousehold = lo
            let pb = person.next()
            var key: UInt64 = 0
            if pb.count > 0 {
                guard case .valid(let id, _) = IDNumber.parse(pb) else { throw r.damaged("person_id") }
                key = id.key
            }
            let yb = policy.next()
            var p: Int32 = -1
            if yb.count > 0 {
                if lastPolicy < 0 || !same(yb, policyText[lastPolicy]) {
                    guard let k = policyText.firstIndex(where: { same(yb, $0) }) else { throw r.damaged("policy") }
                    lastPolicy = k
                }
                p = Int32(lastPolicy)
            }
            let cb = certainty.next(), sb = status.next()
            return EntryKeys(
                list: Int32(lastList), household: Int32(lo), policy: p, person: key,
                certainty: certaintyWords.firstIndex { same(cb, $0) }.flatMap { Certainty(rawValue: UInt8($0)) }
                    ?? .none,
                status: statusWords.firstIndex { same(sb, $0) }.flatMap {
                    PublishedEntry.EntryStatus(rawValue: UInt8($0))
                } ?? .none)
        }
    }
}

/// The distinct codes of a stored result, each one string (shared by every entry
/// that has it), found by their bytes without making an array or a string per entry.
struct CodeVocabulary {
    private var index: [UInt64: [Int]] = [:]
    private var bytes: [[UInt8]] = []
    private var strings: [String] = []

    /// The codes of a field (`a;b;c`) appended to `out`.
    mutating func codes(of field: UnsafeRawBufferPointer, into out: inout [String]) {
        guard field.count > 0 else { return }
        var start = 0
        for i in 0...field.count where i == field.count || field[i] == UInt8(ascii: ";") {
            out.append(code(UnsafeRawBufferPointer(rebasing: field[start..<i])))
            start = i + 1
        }
    }

    mutating func code(_ b: UnsafeRawBufferPointer) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
        if let found = index[h] {
            for k in found where bytes[k].elementsEqual(b) { return strings[k] }
        }
        bytes.append(Array(b))
        strings.append(String(decoding: b, as: UTF8.self))
        index[h, default: []].append(strings.count - 1)
        return strings[strings.count - 1]
    }
}
