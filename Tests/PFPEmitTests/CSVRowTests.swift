import XCTest
import PFPTestSupport
@testable import PFPCore
import PFPFormats
import PFPSchema
@testable import PFPEmit
import PFPIngest
@testable import PFPMatch
import PFPRules

/// The lists' CSV rows, written straight into bytes, against a plain reference
/// (RFC 4180 quoting of a String per field), on every list of the reference rules
/// and on fields that need quotes.
final class CSVRowTests: XCTestCase {
    func reference(_ e: PublishedEntry, _ m: MatchResult, _ l: ListInfo) -> String {
        func field(_ s: String) -> String {
            s.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var f = [field(m.householdID(e))]
        if l.perPolicy { f += [m.personID(e), field(m.policy(e))] }
        for c in l.columns {
            switch c {
            case .certainty: f.append(field(e.certainty.text))
            case .amount: f.append(e.amount.map { String($0) } ?? "")
            case .status: f.append(e.status.text)
            case .district: f.append(String(e.district))
            case .street: f.append(String(e.street))
            case .community: f.append(String(e.community))
            case .unknownFacts: f.append(e.certainty == .toVerify ? field(m.codes(e).joined(separator: ";")) : "")
            case .failedCriteria, .reasons, .triggers: f.append(field(m.codes(e).joined(separator: ";")))
            case .lastOutcome, .outcome: f.append(Outcome(rawValue: e.outcome)?.code ?? "")
            case .lastOutcomeDate, .outcomeDate:
                f.append(e.outcome == PublishedEntry.noOutcome ? "" : CivilDate(days: e.outcomeDate).description)
            case .until: f.append(e.until == 0 ? "" : CivilDate(days: e.until).description)
            }
        }
        return f.joined(separator: ",") + "\n"
    }

    func testRowsMatchAPlainReference() throws {
        let date = CivilDate.parse("2026-11-23")!
        let (tags, policies) = try PipelineConfig(path: repoRoot + "/Pipelines/nightly.conf").loadCatalogue()
        let rules = try RuleSet.load(
            directory: repoRoot + "/Pipelines/rules", catalogue: tags, policyCatalogue: policies, runDate: date,
            unavailableFeeds: [])
        let households = ["H0001", "H,0002", "H\"3\"", "H4\r\n"]
        let codes = ["a.b:1", "c,d", "e\"f", "g", "h;i"]
        guard case .valid(let id, _) = IDNumber.parse("11010519491231002X") else { return XCTFail("test ID number") }
        var entries: [PublishedEntry] = []
        var k = 0
        for (li, _) in rules.lists.enumerated() {
            for h in households.indices {
                for (certainty, status) in [
                    (Certainty.confirmed, PublishedEntry.EntryStatus.new), (.toVerify, .repeat), (.none, .none),
                    (.notEligible, .none),
                ] {
                    let start = k % codes.count, count = k % 3
                    var entry =
                        PublishedEntry(
                            list: Int32(li), household: Int32(h), policy: Int32(k % (rules.policies.count + 1)) - 1,
                            certainty: certainty, status: status, personKey: k % 2 == 0 ? id.key : 0,
                            amountValue: k % 4 == 0 ? Int64.min : Int64(k * 37 - 50), codeStart: Int32(start),
                            codeCount: Int32(min(count, codes.count - start)), district: 310101, street: Int32(k),
                            community: 3101010010 + Int64(k))
                    // Every third entry has a deciding outreach event, every sixth one that holds it back.
                    if k % 3 == 0 {
                        entry.outcome = UInt8(k % Outcome.allCases.count)
                        entry.outcomeDate = date.days - Int32(k)
                        if k % 6 == 0 { entry.until = date.days + Int32(k) }
                    }
                    entries.append(entry)
                    k += 1
                }
            }
        }
        let m = MatchResult(
            entries: entries, listIDs: rules.lists.map(\.id), householdIDs: households,
            policyIDs: rules.policies.map(\.id),
            codes: codes, state: RunState(runDate: date), households: households.count, people: 1)
        let policyFields = m.policyIDs.map { CSVText.field($0) }
        var quoted = 0
        for e in entries {
            let l = rules.lists[Int(e.list)]
            let w = ByteWriter()
            EmitStage.row(e, m, list: l, policies: policyFields, into: w)
            let want = reference(e, m, l)
            XCTAssertEqual(String(decoding: w.out, as: UTF8.self), want)
            if want.contains("\"") { quoted += 1 }
        }
        XCTAssertGreaterThan(quoted, entries.count / 2, "most rows have a field to quote")
        // Entries in list order split by halving as by reading each one; so with lists left empty.
        XCTAssertEqual(EmitStage.byListInOrder(m).mapValues(\.indices), EmitStage.byList(m).mapValues(\.indices))
        var some = m
        some.entries = entries.filter { $0.list % 2 == 1 }
        XCTAssertEqual(
            EmitStage.byListInOrder(some).mapValues(\.indices), EmitStage.byList(some).mapValues(\.indices))
        XCTAssertEqual(EmitStage.byListInOrder(some)[rules.lists[0].id]?.count, 0)
        XCTAssertEqual(CSVText.field("x\"y,z"), Array("\"x\"\"y,z\"".utf8))
    }
}
