import XCTest
import PFPTestSupport
@testable import PFPCore

/// outreach.md end to end: a delivery of SampleData's first day with an outreach
/// feed made from that day's own push list, every cooling-off at and around its
/// boundary, same-day ties, a household-wide do_not_contact against a later event
/// of one entry, and a row of every reject reason.
final class OutreachTests: XCTestCase {
    let date = "2026-11-23"

    struct Entry: Hashable { var household: String, person: String, policy: String }

    func rows(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
    }

    func day(_ offset: Int) -> String { CivilDate.parse(date)!.adding(days: offset).description }

    func run(inbox: String, work: String) throws -> String {
        let r = try runPFP([
            "run", "--run-date", date, "--inbox", inbox, "--out", work + "/out", "--db", work + "/pfp.sqlite",
            "--quiet",
        ])
        XCTAssertEqual(r.status, 0, r.err)
        return work + "/out/" + date
    }

    func testCoolingOffAtItsBoundariesAndRejects() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("pfp-outreach-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let source = repoRoot + "/SampleData/inbox-\(date)"
        let plain = try run(inbox: source, work: tmp + "/a")
        // The push list without outreach: entries of person and household policies, households with one entry.
        let push = try rows(plain + "/push.csv").dropFirst().map {
            Entry(household: $0[0], person: $0[1], policy: $0[2])
        }
        let perHousehold = Dictionary(grouping: push, by: \.household)
        let singles = push.filter { perHousehold[$0.household]!.count == 1 }
        let multi = perHousehold.values.filter { $0.count >= 2 }.sorted { $0[0].household < $1[0].household }
        XCTAssertGreaterThanOrEqual(singles.count, 9, "enough households with one push entry")
        XCTAssertGreaterThanOrEqual(multi.count, 2, "households with several push entries")
        let e = Array(singles.prefix(9))
        let dnc = multi[0], mixed = multi[1]

        var lines = ["household_id,person_id,policy,outcome,channel,event_date,note"]
        func event(_ x: Entry, _ outcome: String, _ offset: Int, channel: String = "phone") {
            lines.append("\(x.household),\(x.person),\(x.policy),\(outcome),\(channel),\(day(offset)),")
        }
        // Expected: entry → (held, outcome, event offset, until offset)
        var held: [Entry: (String, Int, Int)] = [:]
        var last: [Entry: (String, Int)] = [:]
        event(e[0], "declined", -179); held[e[0]] = ("declined", -179, 1)  // c - 1 days after: held one more day
        event(e[1], "declined", -180); last[e[1]] = ("declined", -180)  // exactly c days after: back
        event(e[2], "attempted", -1); last[e[2]] = ("attempted", -1)  // never holds
        event(e[3], "attempted", -10); event(e[3], "granted", -10, channel: "visit")  // same day: granted wins
        held[e[3]] = ("granted", -10, 80)
        event(e[4], "applied", -60); last[e[4]] = ("applied", -60)  // pending_max 60: back on day 60
        event(e[5], "applied", -59); held[e[5]] = ("applied", -59, 1)
        event(e[6], "data_error", -29); held[e[6]] = ("data_error", -29, 1)
        event(e[7], "unreachable", -91); last[e[7]] = ("unreachable", -91)
        event(e[8], "denied", 0); event(e[8], "denied", 0); held[e[8]] = ("denied", 0, 365)  // delivered twice
        // A household asking not to be contacted: every entry of it, whatever the row's policy.
        lines.append("\(dnc[0].household),,,do_not_contact,visit,\(day(-5)),")
        for x in dnc { held[x] = ("do_not_contact", -5, 725) }
        // do_not_contact for the household, then a later event of one entry: the later one decides it.
        lines.append("\(mixed[0].household),,,do_not_contact,letter,\(day(-20)),")
        event(mixed[0], "attempted", -3); last[mixed[0]] = ("attempted", -3)
        for x in mixed.dropFirst() { held[x] = ("do_not_contact", -20, 710) }
        // One row of every reject reason, in the contract's order.
        let x = e[0], idEmpty = x.person.isEmpty
        let dirty: [(String, String)] = [
            ("\(x.household),\(x.person),\(x.policy),declined,phone", "malformed_row"),
            ("\(x.household),\(x.person),\(x.policy),declined,,\(day(-1)),", "missing_field"),
            ("\(x.household),123,\(x.policy),declined,phone,\(day(-1)),", "bad_id"),
            ("\(x.household),\(x.person),\(x.policy),declined,phone,2026-02-30,", "bad_date"),
            ("\(x.household),\(x.person),\(x.policy),declined,phone,\(day(1)),", "future_as_of"),
            ("\(x.household),\(x.person),\(x.policy),refused,phone,\(day(-1)),", "unknown_enum"),
            ("H_bad!,\(x.person),\(x.policy),declined,phone,\(day(-1)),", "bad_household_id"),
            (
                idEmpty
                    ? "\(x.household),11010519491231002X,\(x.policy),declined,phone,\(day(-1)),"
                    : "\(x.household),,\(x.policy),declined,phone,\(day(-1)),", "bad_value"
            ),
        ]
        let firstDirty = lines.count + 1
        lines += dirty.map(\.0)
        let text = lines.joined(separator: "\n") + "\n"
        let inbox = tmp + "/inbox"
        try FileManager.default.copyItem(atPath: source, toPath: inbox)
        try text.write(toFile: inbox + "/outreach.csv", atomically: true, encoding: .utf8)
        let manifest = """
            {"feed": "outreach", "department": "advisers", "as_of": "\(date)", "rows": \(lines.count - 1),
             "sha256": "\(SHA256Digest.hex(of: Array(text.utf8)))", "encoding": "utf-8"}
            """
        try manifest.write(toFile: inbox + "/outreach.csv.manifest.json", atomically: true, encoding: .utf8)

        let out = try run(inbox: inbox, work: tmp + "/b")
        let suppressed = try rows(out + "/suppressed.csv")
        XCTAssertEqual(
            suppressed[0].joined(separator: ","),
            "household_id,person_id,policy,certainty,amount,outcome,outcome_date,until,district,street,community")
        var gotHeld: [Entry: (String, Int, Int)] = [:]
        for r in suppressed.dropFirst() {
            let base = CivilDate.parse(date)!.days
            gotHeld[Entry(household: r[0], person: r[1], policy: r[2])] = (
                r[5], Int(CivilDate.parse(r[6])!.days - base), Int(CivilDate.parse(r[7])!.days - base)
            )
        }
        XCTAssertEqual(gotHeld.count, held.count)
        for (k, v) in held {
            XCTAssertTrue(
                gotHeld[k].map { $0 == v } ?? false, "\(k.policy): expected \(v), got \(String(describing: gotHeld[k]))"
            )
        }
        let pushed = try rows(out + "/push.csv")
        XCTAssertEqual(pushed[0].suffix(2), ["last_outcome", "last_outcome_date"])
        var gotLast: [Entry: (String, Int)] = [:]
        var pushedKeys = Set<Entry>()
        for r in pushed.dropFirst() {
            let k = Entry(household: r[0], person: r[1], policy: r[2])
            pushedKeys.insert(k)
            let o = r[r.count - 2], d = r[r.count - 1]
            if !o.isEmpty { gotLast[k] = (o, Int(CivilDate.parse(d)!.days - CivilDate.parse(date)!.days)) }
        }
        XCTAssertEqual(pushedKeys.union(gotHeld.keys), Set(push), "every entry is pushed or held back, once")
        XCTAssertTrue(pushedKeys.isDisjoint(with: gotHeld.keys))
        XCTAssertEqual(gotLast.count, last.count)
        for (k, v) in last {
            XCTAssertTrue(gotLast[k].map { $0 == v } ?? false, "\(k.policy): \(v) vs \(String(describing: gotLast[k]))")
        }

        // Rejects: each dirty row with its reason, at its physical line.
        let rejects = try rows(out + "/rejects.csv").filter { $0[0] == "outreach" }
        XCTAssertEqual(rejects.map { $0[2] }, dirty.map(\.1))
        XCTAssertEqual(rejects.map { Int($0[1])! }, Array(firstDirty..<(firstDirty + dirty.count)))

        // The explanation of a held entry names the event and the parameter that set its cooling-off.
        let explain = try String(contentsOfFile: out + "/explain.jsonl", encoding: .utf8)
        let line = try XCTUnwrap(
            explain.split(separator: "\n").first {
                $0.hasPrefix("{\"list\":\"suppressed\",\"household_id\":\"\(e[0].household)\"")
            })
        XCTAssertTrue(
            line.contains("\"outreach\":{\"outcome\":\"declined\",\"event_date\":\"\(day(-179))\""), String(line))
        XCTAssertTrue(
            line.contains(
                "\"held_back\":true,\"until\":\"\(day(1))\",\"parameter\":[\"outreach.cooling_declined\",180,\"2016-01-01\"]"
            ), String(line))
        let manifest2 = try String(contentsOfFile: out + "/manifest.json", encoding: .utf8)
        XCTAssertTrue(manifest2.contains("\"schema_version\": 2"), manifest2)

        // A what-if that changes nothing, every household decided again, holds the
        // same entries back: alone, and beside another reform (the events then
        // found once for both).
        for names in [["same"], ["same", "again"]] {
            var args = [
                "whatif", "--run-date", date, "--db", tmp + "/b/pfp.sqlite", "--out", tmp + "/w\(names.count)",
                "--every-household",
            ]
            for n in names {
                let path = tmp + "/\(n).reform"
                try "reform \(n)\n  dibao.standard from 2025-07-01 = 1590\n".write(
                    toFile: path, atomically: true, encoding: .utf8)
                args += ["--reform", path]
            }
            let r = try runPFP(args)
            XCTAssertEqual(r.status, 0, r.err)
            for n in names {
                for f in ["suppressed.csv", "push.csv"] {
                    XCTAssertEqual(
                        try FileIO.readText(tmp + "/w\(names.count)/\(n)/" + f), try FileIO.readText(out + "/" + f),
                        "\(names) \(n) \(f)")
                }
            }
        }
    }
}
