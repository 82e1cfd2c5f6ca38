import PFPCore

/// A person's place in the household order: the household id's packed bytes,
/// then the ID number; `row` is the population row it came from.
struct HouseholdKey: Comparable {
    var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64, id: UInt64, row: Int32

    static func < (a: HouseholdKey, b: HouseholdKey) -> Bool {
        if a.w0 != b.w0 { return a.w0 < b.w0 }
        if a.w1 != b.w1 { return a.w1 < b.w1 }
        if a.w2 != b.w2 { return a.w2 < b.w2 }
        if a.w3 != b.w3 { return a.w3 < b.w3 }
        return a.id < b.id
    }
    func sameHousehold(_ o: HouseholdKey) -> Bool { w0 == o.w0 && w1 == o.w1 && w2 == o.w2 && w3 == o.w3 }
    func householdBefore(_ o: HouseholdKey) -> Bool {
        if w0 != o.w0 { return w0 < o.w0 }
        if w1 != o.w1 { return w1 < o.w1 }
        if w2 != o.w2 { return w2 < o.w2 }
        return w3 < o.w3
    }
}

/// The accepted people grouped by household id (byte order), then by ID number,
/// in four steps: keys, sort, households numbered, columns. Every array here is
/// made in pieces on every core, each element written once (no zeroing, no
/// copy): at city scale they are gigabytes of fresh pages, and the kernel takes
/// microseconds to clear each one.
struct HouseholdAssembly {
    /// Accepted people.
    let n: Int
    /// Parallel pieces.
    let pieces: Int

    init(count n: Int, pieceRows: Int) {
        self.n = n
        pieces = max(1, min(64, n / pieceRows))
    }

    /// Piece k's part of `count` elements.
    func range(_ k: Int, of count: Int) -> Range<Int> { (count * k / pieces)..<(count * (k + 1) / pieces) }

    /// One key per accepted row, in delivery order.
    func keys(rows: [PopulationRow], accepted: [Int]) -> [HouseholdKey] {
        IngestStage.filled(n) { kb in
            accepted.withUnsafeBufferPointer { acc in
                rows.withUnsafeBufferPointer { rb in
                    Parallel.forEach(pieces) { k in
                        for j in range(k, of: n) {
                            let i = acc[j], r = rb[i]
                            (kb.baseAddress! + j).initialize(
                                to: HouseholdKey(
                                    w0: r.household.0, w1: r.household.1, w2: r.household.2, w3: r.household.3,
                                    id: r.id, row: Int32(i)))
                        }
                    }
                }
            }
        }
    }

    /// Deliveries mostly list households in order, each one's members together. The
    /// rows that keep the households in order stay where they are (moved up over
    /// the others), only their members sorted; the few others are sorted on their
    /// own and merged in from the end. A full sort of a city's rows would merge
    /// thousands of short runs, pass after pass over gigabytes.
    func sort(_ keys: inout [HouseholdKey]) {
        var others: [HouseholdKey] = []
        var kept = 0
        keys.withUnsafeMutableBufferPointer { k in
            for i in 0..<n {
                if kept == 0 || !k[i].householdBefore(k[kept - 1]) {
                    k[kept] = k[i]; kept += 1
                } else {
                    others.append(k[i])
                }
            }
            var a = 0
            while a < kept {
                var b = a + 1
                while b < kept && k[b].sameHousehold(k[a]) { b += 1 }
                if b - a > 1 { var members = UnsafeMutableBufferPointer(rebasing: k[a..<b]); members.sort() }
                a = b
            }
        }
        guard !others.isEmpty else { return }
        others.sort()
        keys.withUnsafeMutableBufferPointer { k in
            var i = kept - 1, j = others.count - 1, out = n - 1
            while j >= 0 {
                if i >= 0 && others[j] < k[i] { k[out] = k[i]; i -= 1 } else { k[out] = others[j]; j -= 1 }
                out -= 1
            }
        }
    }

    /// Each person's household number and where each household starts: counted
    /// per piece first, then numbered.
    func number(_ keys: [HouseholdKey]) -> (household: [Int32], starts: [Int32]) {
        var startsBefore = [Int](repeating: 0, count: pieces + 1)
        keys.withUnsafeBufferPointer { kb in
            startsBefore.withUnsafeMutableBufferPointer { sb in
                Parallel.forEach(pieces) { k in
                    var c = 0
                    for i in range(k, of: n) where i == 0 || !kb[i].sameHousehold(kb[i - 1]) { c += 1 }
                    sb[k + 1] = c
                }
            }
        }
        for k in 0..<pieces { startsBefore[k + 1] += startsBefore[k] }
        var starts: [Int32] = []
        let household: [Int32] = IngestStage.filled(n) { hb in
            starts = IngestStage.filled(startsBefore[pieces]) { sb in
                keys.withUnsafeBufferPointer { kb in
                    Parallel.forEach(pieces) { k in
                        var h = startsBefore[k] - 1
                        for i in range(k, of: n) {
                            if i == 0 || !kb[i].sameHousehold(kb[i - 1]) { h += 1; sb[h] = Int32(i) }
                            hb[i] = Int32(h)
                        }
                    }
                }
            }
        }
        return (household, starts)
    }

    /// The person columns in one pass over the rows (not one pass per column: at
    /// city scale the rows are gigabytes), in pieces on every core; the
    /// households' ids likewise. (Each column is made inside the one before: the
    /// pass runs when every one of them can be written.)
    func columns(keys: [HouseholdKey], rows: [PopulationRow], starts: [Int32], into result: IngestResult) {
        let households = starts.count
        var names: [String] = []
        var birthColumn: [Int32] = [], maleColumn: [UInt8] = [], relationColumn: [UInt8] = []
        var hukouColumn: [UInt8] = [], districtColumn: [Int32] = [], streetColumn: [Int32] = []
        var communityColumn: [Int64] = []
        let personID: [UInt64] = IngestStage.filled(n) { id in
            birthColumn = IngestStage.filled(n) { birth in
                maleColumn = IngestStage.filled(n) { male in
                    relationColumn = IngestStage.filled(n) { relation in
                        hukouColumn = IngestStage.filled(n) { hukou in
                            districtColumn = IngestStage.filled(n) { district in
                                streetColumn = IngestStage.filled(n) { street in
                                    communityColumn = IngestStage.filled(n) { community in
                                        names = [String](unsafeUninitializedCapacity: households) { nameBuf, count in
                                            keys.withUnsafeBufferPointer { kb in
                                                rows.withUnsafeBufferPointer { rb in
                                                    Parallel.forEach(pieces) { k in
                                                        for i in range(k, of: n) {
                                                            let r = rb[Int(kb[i].row)]
                                                            id[i] = kb[i].id; birth[i] = r.birth
                                                            male[i] = r.male ? 1 : 0; relation[i] = r.relation
                                                            hukou[i] = r.hukou; district[i] = r.district
                                                            street[i] = r.street; community[i] = r.community
                                                        }
                                                        for h in range(k, of: households) {
                                                            let w = kb[Int(starts[h])]
                                                            (nameBuf.baseAddress! + h).initialize(
                                                                to: householdText((w.w0, w.w1, w.w2, w.w3)))
                                                        }
                                                    }
                                                }
                                            }
                                            count = households
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        result.personID = Column(personID)
        result.birth = Column(birthColumn)
        result.male = Column(maleColumn)
        result.relation = Column(relationColumn)
        result.hukou = Column(hukouColumn)
        result.district = Column(districtColumn)
        result.street = Column(streetColumn)
        result.community = Column(communityColumn)
        result.householdIDs = names
    }
}
