import XCTest
import PFPTestSupport
@testable import PFPCore
import PFPSchema
@testable import PFPIngest
@testable import PFPRules

final class RuleCaseSuiteTests: XCTestCase {
    /// Every case under Pipelines/tests passes (the same as `pfp test-rules`).
    func testAllRuleCasesPass() throws {
        let (tags, policies) = try loadCatalogues()
        let cases = try RuleCaseFile.load(directory: repoRoot + "/Pipelines/tests")
        XCTAssertGreaterThanOrEqual(cases.count, 150)
        let r = try RuleCaseRunner(
            rulesDirectory: repoRoot + "/Pipelines/rules", catalogue: tags, policyCatalogue: policies
        ).run(cases)
        for f in r.failures { XCTFail("\(f.caseID) \(f.location): \(f.message)") }
        XCTAssertEqual(r.passed, cases.count)
    }

    /// Every policy and list of the reference set is exercised by at least one case.
    func testEveryPolicyAndListHasCases() throws {
        let rs = try loadRules()
        let text = try FileManager.default.contentsOfDirectory(atPath: repoRoot + "/Pipelines/tests")
            .map { try FileIO.readText(repoRoot + "/Pipelines/tests/" + $0) }.joined()
        for p in rs.policies { XCTAssertTrue(text.contains("expect \(p.id)") || text.contains(": \(p.id)"), p.id) }
        for l in rs.lists {
            XCTAssertTrue(
                text.contains("expect \(l.id)") || text.contains("expect no \(l.id)")
                    || text.contains("expect not \(l.id)"), l.id)
        }
    }

    func testAChangedThresholdChangesResultsWithoutRebuild() throws {
        let dir = NSTemporaryDirectory() + "pfp-rules-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: repoRoot + "/Pipelines/rules", toPath: dir)
        defer { try? FileIO.remove(dir) }
        let (tags, policies) = try loadCatalogues()
        let cases = try RuleCaseFile.load(directory: repoRoot + "/Pipelines/tests")
        let before = try RuleCaseRunner(rulesDirectory: dir, catalogue: tags, policyCatalogue: policies).run(cases)
        XCTAssertTrue(before.failures.isEmpty)
        let p = dir + "/parameters.rules"
        try FileIO.write(
            p,
            Array(
                try FileIO.readText(p).replacingOccurrences(
                    of: "from 2025-07-01 = 1590", with: "from 2025-07-01 = 1700"
                ).utf8))
        let after = try RuleCaseRunner(rulesDirectory: dir, catalogue: tags, policyCatalogue: policies).run(cases)
        XCTAssertGreaterThan(after.failures.count, 10)
        XCTAssertTrue(after.failures.contains { $0.caseID == "dibao_at_line" })
    }
}

final class RuleErrorTests: XCTestCase {
    /// Compiles the reference rules with one file replaced by `text`; returns the error.
    func error(in file: String, replacing old: String, with new: String, date: String = "2026-11-24") -> PipelineError?
    {
        let dir = NSTemporaryDirectory() + "pfp-rules-\(UUID().uuidString)"
        defer { try? FileIO.remove(dir) }
        do {
            try FileManager.default.copyItem(atPath: repoRoot + "/Pipelines/rules", toPath: dir)
            let path = dir + "/" + file
            let text = try FileIO.readText(path)
            XCTAssertTrue(text.contains(old), "the test's anchor is gone: \(old)")
            try FileIO.write(path, Array(text.replacingOccurrences(of: old, with: new).utf8))
            _ = try loadRules(date, directory: dir)
            return nil
        } catch let e as PipelineError {
            return e
        } catch {
            XCTFail("\(error)")
            return nil
        }
    }

    func assertLocation(
        _ e: PipelineError?, file: String, line: Int, column: Int, contains: String, _ fileLine: UInt = #line
    ) {
        guard let e else { return XCTFail("expected an error", line: fileLine) }
        XCTAssertTrue(
            e.location?.hasSuffix("/\(file):\(line):\(column)") == true, "location \(e.location ?? "nil")",
            line: fileLine)
        XCTAssertTrue(e.message.contains(contains), "message: \(e.message)", line: fileLine)
        XCTAssertEqual(e.exitCode, .badInput, line: fileLine)
    }

    func testTypoInAName() {
        // policies.rules line 16: "  criterion income: pc_income < dibao_line"; columns count characters
        let e = error(
            in: "policies.rules", replacing: "criterion income: pc_income < dibao_line",
            with: "criterion income: pc_incme < dibao_line")
        assertLocation(
            e, file: "policies.rules", line: 16, column: 21,
            contains: "unknown name 'pc_incme'; did you mean 'pc_income'?")
    }

    func testSyntaxError() {
        let e = error(
            in: "policies.rules",
            replacing: "criterion vehicles: vehicles = 0\n  criterion housing_units: units <= 1\n  amount n",
            with: "criterion vehicles: vehicles = = 0\n  criterion housing_units: units <= 1\n  amount n")
        assertLocation(e, file: "policies.rules", line: 18, column: 34, contains: "expected a value")
    }

    func testAddingADateToMoney() {
        let e = error(
            in: "values.rules", replacing: "= income.wage + income.pension + income.other",
            with: "= income.wage + civil.deceased_on")
        assertLocation(e, file: "values.rules", line: 11, column: 43, contains: "cannot add a number and a date")
    }

    func testComparingAWordThatDoesNotExist() {
        let e = error(
            in: "values.rules", replacing: "employment.status = \"student\"", with: "employment.status = \"studnet\"")
        assertLocation(e, file: "values.rules", line: 12, column: 51, contains: "\"studnet\" is not one of")
    }

    func testACycleBetweenDefinitions() {
        let e = error(
            in: "values.rules", replacing: "household value n \"家庭人数\" = count(members)",
            with: "household value n \"家庭人数\" = count(members) + 0 * pc_income")
        XCTAssertNotNil(e)
        XCTAssertTrue(e?.message.contains("a cycle between definitions") == true, e?.message ?? "")
        XCTAssertTrue(e?.location?.contains("values.rules:") == true)
    }

    func testAPolicyCycle() {
        let e = error(
            in: "policies.rules",
            replacing: "criterion income_floor: pc_income >= dibao_line\n  criterion income: pc_income < low_line",
            with:
                "criterion income_floor: pc_income >= dibao_line and not has(housing_assistance)\n  criterion income: pc_income < low_line"
        )
        let e2 =
            e
            ?? error(
                in: "policies.rules", replacing: "criterion not_housed: all(members, housing.public_rental = false)",
                with: "criterion not_housed: all(members, housing.public_rental = false) and not has(low_income)")
        XCTAssertNil(e)  // one direction alone is fine
        XCTAssertNil(e2)
        let both = RuleErrorTests.combined()
        XCTAssertTrue(both?.message.contains("a cycle between policies") == true, both?.message ?? "none")
    }

    static func combined() -> PipelineError? {
        let dir = NSTemporaryDirectory() + "pfp-rules-\(UUID().uuidString)"
        defer { try? FileIO.remove(dir) }
        do {
            try FileManager.default.copyItem(atPath: repoRoot + "/Pipelines/rules", toPath: dir)
            let path = dir + "/policies.rules"
            var text = try FileIO.readText(path)
            text = text.replacingOccurrences(
                of: "criterion not_housed: all(members, housing.public_rental = false)",
                with: "criterion not_housed: not has(low_income)")
            text = text.replacingOccurrences(
                of:
                    "criterion income: pc_income < low_line\n  criterion assets: pc_assets <= low_income.asset_limit_pc",
                with:
                    "criterion income: pc_income < low_line and not has(housing_assistance)\n  criterion assets: pc_assets <= low_income.asset_limit_pc"
            )
            try FileIO.write(path, Array(text.utf8))
            _ = try loadRules(directory: dir)
            return nil
        } catch { return error as? PipelineError }
    }

    func testAPersonValueWhereThereIsNoPerson() {
        let e = error(
            in: "values.rules", replacing: "household value units \"住房套数\" = sum(members, housing.units_owned)",
            with: "household value units \"住房套数\" = housing.units_owned")
        assertLocation(e, file: "values.rules", line: 22, column: 32, contains: "belongs to a person")
    }

    func testAParameterWithoutAValueSkipsThePolicy() throws {
        let dir = NSTemporaryDirectory() + "pfp-rules-\(UUID().uuidString)"
        defer { try? FileIO.remove(dir) }
        try FileManager.default.copyItem(atPath: repoRoot + "/Pipelines/rules", toPath: dir)
        let p = dir + "/parameters.rules"
        try FileIO.write(
            p,
            Array(
                try FileIO.readText(p).replacingOccurrences(
                    of: "from 2018-01-01 = 1800", with: "from 2027-01-01 = 1800"
                ).utf8))
        let rs = try loadRules(directory: dir)
        XCTAssertEqual(rs.skippedPolicies.map(\.id), ["child_difficulty"])
        XCTAssertTrue(rs.skippedPolicies[0].reason.contains("child_difficulty.amount"))
    }

    func testAListParameterWithoutAValueRefusesTheRun() {
        let e = error(
            in: "parameters.rules",
            replacing: "parameter watch.income_multiplier number \"监测对象：收入 < 倍数 × 低收入标准\"\n  from 2016-01-01 = 1.5",
            with: "parameter watch.income_multiplier number \"监测对象：收入 < 倍数 × 低收入标准\"\n  from 2030-01-01 = 1.5")
        XCTAssertTrue(e?.message.contains("list watch cannot be made") == true, e?.message ?? "none")
    }

    func testAMissingRequiredFeedSkipsThePoliciesThatReadIt() throws {
        // without the disability feed: disability policies are skipped, and so is the
        // tekun policy (it reads the grade); tekun is read by the lists: the run is refused.
        XCTAssertThrowsError(try loadRules(unavailable: ["disability"])) { e in
            XCTAssertTrue("\(e)".contains("run is refused"), "\(e)")
        }
        let rs = try loadRules(unavailable: ["education"])
        XCTAssertEqual(rs.skippedPolicies.map(\.id), ["education_assistance"])
    }

    func testHugeAndDeeplyNestedFilesAreRefused() throws {
        let dir = NSTemporaryDirectory() + "pfp-rules-\(UUID().uuidString)"
        defer { try? FileIO.remove(dir) }
        try FileManager.default.copyItem(atPath: repoRoot + "/Pipelines/rules", toPath: dir)
        let deep =
            "household value deep = " + String(repeating: "(", count: 200) + "1" + String(repeating: ")", count: 200)
            + "\n"
        try FileIO.write(dir + "/zz.rules", Array(deep.utf8))
        XCTAssertThrowsError(try loadRules(directory: dir)) { e in XCTAssertTrue("\(e)".contains("nested"), "\(e)") }
        try FileIO.write(dir + "/zz.rules", [UInt8](repeating: 35, count: (1 << 20) + 1))
        XCTAssertThrowsError(try loadRules(directory: dir)) { e in XCTAssertTrue("\(e)".contains("at most"), "\(e)") }
    }
}

final class RationalTests: XCTestCase {
    func testExactArithmeticAndHalfUpRounding() {
        let third = Q(1) / Q(3)
        XCTAssertEqual(third! * Q(3), Q(1))
        XCTAssertEqual(Q(decimal: "0.3")! * Q(decimal: "1590")!, Q(477))
        XCTAssertEqual(Q(9, 2).roundedHalfUp, 5)
        XCTAssertEqual(Q(-9, 2).roundedHalfUp, -4)
        XCTAssertEqual(Q(449, 100).roundedHalfUp, 4)
        XCTAssertEqual(Q(decimal: "1589.995")!.description, "1589.995")
        XCTAssertNil(Q(1) / Q(0))
        XCTAssertTrue(Q(317999, 200) < Q(1590))
    }

    /// Reduction to lowest terms, 64-bit path and 128-bit path, against Euclid's
    /// algorithm on 128-bit numbers: the same numerator and denominator (not only
    /// an equal value), signs, zero and numbers past 64 bits included.
    func testReductionGivesLowestTermsOnEveryPath() {
        func euclid(_ n: Int128, _ d: Int128) -> (Int128, Int128) {
            var a = n.magnitude, b = d.magnitude
            while b != 0 { (a, b) = (b, a % b) }
            let g = Int128(a)
            return g > 1 ? (n / g, d / g) : (n, d)
        }
        var rng = SystemRandomNumberGenerator()
        var cases: [(Int128, Int128)] = [
            (0, 7), (0, 1), (-12, 8), (12, 8), (1, 1 << 63), (Int128(Int64.max), 2),
            (Int128(UInt64.max), Int128(UInt64.max)), (Int128(1) << 70, Int128(1) << 66),
            (-(Int128(3) << 80), Int128(6) << 10), (7 * 3 * 64, 3 * 128),
        ]
        for _ in 0..<20_000 {
            let bits = Int.random(in: 1...100, using: &rng)
            let n =
                Int128.random(in: -(Int128(1) << bits)...(Int128(1) << bits), using: &rng)
                * Int128(Int.random(in: 1...1000, using: &rng))
            let d =
                Int128.random(in: 1...(Int128(1) << Int.random(in: 1...90, using: &rng)), using: &rng)
                * Int128(Int.random(in: 1...1000, using: &rng))
            cases.append((n, d))
        }
        for (n, d) in cases {
            let r = Q(n, d).reduced(), e = euclid(n, d)
            XCTAssertTrue(r.n == e.0 && r.d == e.1, "\(n)/\(d): \(r.n)/\(r.d), expected \(e.0)/\(e.1)")
            var a = n.magnitude, b = d.magnitude
            while b != 0 { (a, b) = (b, a % b) }
            XCTAssertEqual(Q.gcd(n, d), Int128(a), "gcd(\(n), \(d))")
        }
        // Fen to yuan: the same lowest terms as reducing x/100.
        for x in Array(-1_000...1_000) + [Int64.max, Int64.min + 1, 123_456_789_000, -98_765_432_150] {
            let f = Q.fen(x), r = Q(Int128(x), 100).reduced()
            XCTAssertTrue(f.n == r.n && f.d == r.d, "\(x): \(f.n)/\(f.d), expected \(r.n)/\(r.d)")
        }
        XCTAssertEqual(Q.gcd64(0, 0), 0)
        XCTAssertEqual(Q.gcd64(0, 9), 9)
        XCTAssertEqual(Q.gcd64(48, 0), 48)
    }

    /// Arithmetic and comparison in 64 bits, with results that leave 64 bits and
    /// operands past 64 bits (kept exactly as wide numbers), against the same
    /// formulas on 128-bit numbers reduced by Euclid: the same lowest terms.
    func testArithmeticPastSixtyFourBitsIsExact() {
        struct R: Equatable { var n: Int128; var d: Int128 }
        func lowest(_ n: Int128, _ d: Int128) -> R {
            let (n, d) = d < 0 ? (-n, -d) : (n, d)
            var a = n.magnitude, b = d.magnitude
            while b != 0 { (a, b) = (b, a % b) }
            let g = Int128(a)
            return g > 1 ? R(n: n / g, d: d / g) : R(n: n, d: d)
        }
        func r(_ q: Q) -> R { let x = q.reduced(); return R(n: x.n, d: x.d) }
        var rng = SystemRandomNumberGenerator()
        func number(_ maxBits: Int, _ maxDBits: Int) -> (Int128, Int128) {
            let nb = Int.random(in: 0...maxBits, using: &rng), db = Int.random(in: 0...maxDBits, using: &rng)
            let n = Int128.random(in: -(Int128(1) << nb)...(Int128(1) << nb), using: &rng)
            let d = Int128.random(in: 1...(Int128(1) << db), using: &rng)
            return (n, d)
        }
        var samples: [((Int128, Int128), (Int128, Int128))] = [
            ((Int128(Int64.max), 100), (Int128(Int64.max), 100)),  // a sum past 64 bits
            ((Int128(Int64.max), 100), (1, 100)),  // numerator 2^63
            ((Int128(Int64.min), 1), (-1, 1)), ((Int128(Int64.min), 1), (1, 1)),
            ((Int128(Int64.max), 3), (Int128(Int64.max), 7)),  // product past 64 bits
            ((Int128(1) << 70, 3), (5, 2)), ((-(Int128(1) << 64), 7), (Int128(1) << 60, 7)),
            ((0, 1), (Int128(1) << 80, 9)), ((7, 2), (7, 2)), ((Int128(1) << 62, 1), (Int128(1) << 62, 1)),
        ]
        for _ in 0..<20_000 {
            // 64-bit operands (results may leave 64 bits), and operands up to 80
            // bits whose products stay within 128 bits (past them 128-bit
            // arithmetic traps, as it always did).
            samples.append((number(63, 62), number(63, 62)))
            samples.append((number(80, 40), number(40, 40)))
            samples.append((number(40, 40), number(80, 40)))
            // Money and shares: denominators that divide one another (and whole
            // numbers), numerators small and near the 64-bit edge.
            let dens: [Int128] = [1, 2, 4, 5, 10, 20, 25, 50, 100, 3, 6, 12]
            let bits = [20, 40, 60, 62, 63][Int.random(in: 0..<5, using: &rng)]
            func money() -> (Int128, Int128) {
                (
                    Int128.random(in: -(Int128(1) << bits)...(Int128(1) << bits), using: &rng),
                    dens.randomElement(using: &rng)!
                )
            }
            samples.append((money(), money()))
        }
        let widesBefore = WideNumbers.shared.count
        for ((an, ad), (bn, bd)) in samples {
            let a = Q(an, ad), b = Q(bn, bd)
            let x = lowest(an, ad), y = lowest(bn, bd)
            XCTAssertEqual(r(a), x)
            let label = "\(an)/\(ad) and \(bn)/\(bd)"
            XCTAssertEqual(r(a + b), lowest(x.n * y.d + y.n * x.d, x.d * y.d), "+ " + label)
            XCTAssertEqual(r(a - b), lowest(x.n * y.d - y.n * x.d, x.d * y.d), "- " + label)
            XCTAssertEqual(r(-a), R(n: -x.n, d: x.d), "negated " + label)
            XCTAssertEqual(r(a * b), lowest(x.n * y.n, x.d * y.d), "* " + label)
            if y.n == 0 {
                XCTAssertNil(a / b)
            } else {
                XCTAssertEqual(r((a / b)!), lowest(x.n * y.d, x.d * y.n), "/ " + label)
            }
            XCTAssertEqual(a < b, x.n * y.d < y.n * x.d, "< " + label)
            XCTAssertEqual(a == b, x.n * y.d == y.n * x.d, "== " + label)
            if a == b { XCTAssertEqual(a.hashValue, b.hashValue, label) }
            XCTAssertEqual(Q(an * 6, ad * 6), a, label)
        }
        XCTAssertGreaterThan(WideNumbers.shared.count, widesBefore, "no operation left 64 bits")
        // Wide numbers print, round and code as any other.
        let big = Q(Int128(Int64.max)) + Q(1, 100)
        XCTAssertTrue(big.isWide)
        XCTAssertEqual(big.description, "9223372036854775807.01")
        XCTAssertEqual((big + big).roundedHalfUp, 18446744073709551614)
        XCTAssertEqual((big - Q(1, 100)).description, "9223372036854775807")
        XCTAssertFalse((big - Q(1, 100)).isWide)
        XCTAssertTrue((Q(Int128(Int64.max)) + Q(1)).isWide)
        XCTAssertFalse((Q(Int128(Int64.max), 100) + Q(1, 100)).isWide, "2^63/100 is 2^61/25 in lowest terms")
        XCTAssertEqual(ValCoding.encode(.num(big)).0, 7)
        let (k, n, d) = ValCoding.encode(.num(Q(6, 4)))
        XCTAssertEqual(ValCoding.decode(k, n, d), .num(Q(3, 2)))
        XCTAssertNil(ValCoding.decode(4, 1, 0))
        XCTAssertLessThanOrEqual(MemoryLayout<Val>.size, 17, "a Val no longer fits in registers")
    }

    /// Decimal parts (what amounts and money values print as) of numbers whose
    /// denominator divides a power of ten, 64-bit path and wide path, against the
    /// digits worked out on 128 bits.
    func testDecimalPartsOnEveryPath() {
        func reference(_ n: Int128, _ d: Int128) -> String {
            var a = n.magnitude, b = d.magnitude
            while b != 0 { (a, b) = (b, a % b) }
            let rn = n / Int128(a), rd = d / Int128(a)
            if rd == 1 { return String(rn) }
            var places = 0, scale: Int128 = 1
            while scale % rd != 0 {
                if places == 38 { return "\(rn)/\(rd)" }  // past 128 bits: n/d
                scale *= 10; places += 1
            }
            let m = (rn * (scale / rd)).magnitude
            var frac = String(m % UInt128(scale))
            while frac.count < places { frac = "0" + frac }
            return (rn < 0 ? "-" : "") + "\(m / UInt128(scale))." + frac
        }
        var rng = SystemRandomNumberGenerator()
        var cases: [(Int128, Int128)] = [
            (1, 3), (Int128(Int64.max), 100), (Int128(Int64.min), 100), (-1, 1 << 62), (7, 5 * 5 * 5 * 2),
        ]
        for _ in 0..<10_000 {
            var d: Int128 = 1
            for _ in 0..<Int.random(in: 0...20, using: &rng) { d *= 2 }
            for _ in 0..<Int.random(in: 0...20, using: &rng) where d * 5 < Int128(Int64.max) { d *= 5 }
            let bits = Int.random(in: 0...[62, 70].randomElement(using: &rng)!, using: &rng)
            cases.append((Int128.random(in: -(Int128(1) << bits)...(Int128(1) << bits), using: &rng), d))
        }
        for (n, d) in cases {
            let q = Q(n, d)
            if d % 3 == 0 { XCTAssertNil(q.decimalParts); continue }
            XCTAssertEqual(q.description, reference(n, d), "\(n)/\(d)")
        }
    }
}

final class TracerTests: XCTestCase {
    /// A (person, tag) pair is listed once, at its first read, in read order; a reset
    /// starts afresh; far more reads than any rule set makes are still deduplicated.
    func testTagReadsAreListedOnceInReadOrder() {
        let t = Tracer()
        func read(_ person: UInt64, _ tag: Int32, _ asOf: Int32 = 0) {
            t.readTag(.init(person: person, tag: tag, state: .delivered, asOf: asOf, value: .bool(true)))
        }
        read(11, 1, 5); read(12, 1); read(11, 2); read(11, 1, 6); read(12, 1)
        XCTAssertEqual(t.tagReads.map { "\($0.person):\($0.tag):\($0.asOf)" }, ["11:1:5", "12:1:0", "11:2:0"])
        t.reset()
        XCTAssertTrue(t.tagReads.isEmpty)
        read(12, 1); read(11, 1)
        XCTAssertEqual(t.tagReads.map { "\($0.person):\($0.tag)" }, ["12:1", "11:1"])
        t.reset()
        // 3,000 people x 2 tags, each read twice: past the set's size.
        for _ in 0..<2 { for p in 1...3000 { read(UInt64(p), 0); read(UInt64(p), 7) } }
        XCTAssertEqual(t.tagReads.count, 6000)
        XCTAssertEqual(Set(t.tagReads.map { "\($0.person):\($0.tag)" }).count, 6000)
        XCTAssertEqual(t.tagReads.prefix(3).map { "\($0.person):\($0.tag)" }, ["1:0", "1:7", "2:0"])
    }
}

/// outreach.rules: the outcomes' cooling-off read on the run date, and the
/// statement's checks.
final class OutreachRulesTests: XCTestCase {
    func rules(_ date: String, outreach text: String? = nil) throws -> RuleSet {
        let dir = NSTemporaryDirectory() + "pfp-rules-\(UUID().uuidString)"
        defer { try? FileIO.remove(dir) }
        try FileManager.default.copyItem(atPath: repoRoot + "/Pipelines/rules", toPath: dir)
        if let text { try FileIO.write(dir + "/outreach.rules", Array(text.utf8)) }
        return try loadRules(date, directory: dir)
    }

    /// A cooling-off parameter that changes on the run date: the new value holds from that date.
    func testACoolingOffChangingOnTheRunDate() throws {
        let reference = try FileIO.readText(repoRoot + "/Pipelines/rules/outreach.rules")
        let changed = reference.replacingOccurrences(
            of: "parameter outreach.cooling_declined number \"明确拒绝后的冷静期（天）\"\n  from 2016-01-01 = 180",
            with: "parameter outreach.cooling_declined number \"明确拒绝后的冷静期（天）\"\n  from 2016-01-01 = 180\n"
                + "  from 2026-11-24 = 10")
        XCTAssertNotEqual(changed, reference, "the test's anchor is gone")
        let declined = Int(Outcome.declined.rawValue)
        XCTAssertEqual(try rules("2026-11-23", outreach: changed).outreach.cooling[declined]?.days, 180)
        let on = try rules("2026-11-24", outreach: changed).outreach
        XCTAssertEqual(on.cooling[declined]?.days, 10)
        XCTAssertEqual(on.cooling[declined]?.from?.description, "2026-11-24")
        // An event 12 days before: held back the day before the change, not on its day.
        let event = OutreachEvent(
            household: "H1", person: 0, policy: "dibao", outcome: .declined, channel: .phone,
            date: CivilDate.parse("2026-11-12")!.days)
        XCTAssertTrue(
            try rules("2026-11-23", outreach: changed).outreach.holds(event, on: CivilDate.parse("2026-11-23")!))
        XCTAssertFalse(on.holds(event, on: CivilDate.parse("2026-11-24")!))
        XCTAssertNil(try rules("2026-11-24").outreach.cooling[Int(Outcome.attempted.rawValue)], "attempted: never")
    }

    func testOutcomesMustListEveryOutcomeOnceWithKnownParameters() throws {
        let reference = try FileIO.readText(repoRoot + "/Pipelines/rules/outreach.rules")
        for (old, new, message) in [
            ("  attempted: never\n", "", "missing: attempted"),
            ("  attempted: never\n", "  attempted: never\n  granted: never\n", "outcome granted is listed twice"),
            (
                "  declined: outreach.cooling_declined", "  declined: outreach.cooling_refused",
                "outreach.cooling_refused"
            ),
            ("  attempted: never", "  attempted: never\n  refused: never", "unknown outcome 'refused'"),
            ("from 2016-01-01 = 180", "from 2016-01-01 = 180.5", "a whole number"),
        ] {
            XCTAssertTrue(reference.contains(old), "the test's anchor is gone: \(old)")
            XCTAssertThrowsError(try rules("2026-11-24", outreach: reference.replacingOccurrences(of: old, with: new)))
            {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
        // Rules without outcomes load, but cannot apply outreach events.
        let none = try rules("2026-11-24", outreach: "# no outcomes\n")
        XCTAssertNotNil(none.outreach.problem)
    }
}
