import Foundation
import PFPCore
import PFPSchema

/// Rule tests, the way OpenFisca tests its rules: files under `Pipelines/tests/`
/// describe small households and the expected outcome of each policy and list.
///
///     case dibao_below_line "低保：人均收入低于标准"
///       date 2026-11-24
///       person A head age 45 local
///         income.wage = 1589.99
///       expect dibao: eligible amount 1
///       expect push: dibao confirmed
///
/// See docs/RULES.md for every line a case may hold.
public struct RuleCase {
    public struct Person {
        var name: String
        var relation: String
        var birth: CivilDate
        var local: Bool
        var male: Bool
        var tags: [(tag: String, value: String, line: Int)]
        var line: Int
    }
    public var id: String
    public var label: String
    public var file: String
    public var line: Int
    var date: CivilDate
    var people: [Person] = []
    var previousDate: CivilDate?
    var previousPeople: [Person] = []
    var expectations: [(text: String, line: Int)] = []
    /// Outreach events of the household: outcome, days from the case's date,
    /// policy (nil: household-wide) and the person's name.
    var events: [(outcome: String, offset: Int, policy: String?, person: String?, line: Int)] = []
}

public enum RuleCaseFile {
    public static func load(directory: String) throws -> [RuleCase] {
        guard FileIO.isDirectory(directory) else {
            throw PipelineError.badInput(location: directory, "the rule tests directory does not exist")
        }
        var out: [RuleCase] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).filter({ $0.hasSuffix(".cases") })
            .sorted()
        {
            let path = (directory as NSString).appendingPathComponent(name)
            out += try parse(file: path, text: FileIO.readText(path))
        }
        return out
    }

    static func parse(file: String, text: String) throws -> [RuleCase] {
        var cases: [RuleCase] = []
        var inPrevious = false
        func fail(_ line: Int, _ m: String) -> PipelineError { PipelineError.badInput(location: "\(file):\(line)", m) }
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = i + 1
            var line = String(raw)
            if let h = line.firstIndex(of: "#") { line = String(line[..<h]) }
            let indent = line.prefix { $0 == " " }.count
            let words = line.split(separator: " ").map(String.init)
            guard let first = words.first else { continue }
            if first == "case" {
                guard words.count >= 2 else { throw fail(lineNo, "expected 'case ID \"label\"'") }
                let label = line.split(separator: "\"").dropFirst().first.map(String.init) ?? ""
                cases.append(
                    RuleCase(id: words[1], label: label, file: file, line: lineNo, date: CivilDate.parse("2026-11-24")!)
                )
                inPrevious = false
                continue
            }
            guard !cases.isEmpty else { throw fail(lineNo, "expected 'case ID' before this line") }
            var c = cases.removeLast()
            defer { cases.append(c) }
            switch first {
            case "date":
                guard words.count == 2, let d = CivilDate.parse(words[1]) else {
                    throw fail(lineNo, "expected 'date YYYY-MM-DD'")
                }
                c.date = d
                inPrevious = false
            case "previous":
                guard words.count == 2, let d = CivilDate.parse(words[1]) else {
                    throw fail(lineNo, "expected 'previous YYYY-MM-DD'")
                }
                c.previousDate = d
                inPrevious = true
            case "person":
                // person NAME RELATION (age N | born DATE) [local|nonlocal] [male|female] [deceased DATE]
                guard words.count >= 5 else {
                    throw fail(lineNo, "expected 'person NAME RELATION age N|born DATE [local|nonlocal] [male|female]'")
                }
                let when = inPrevious ? (c.previousDate ?? c.date) : c.date
                var birth: CivilDate?
                var local = true, male = true
                var k = 3
                var tags: [(String, String, Int)] = []
                while k < words.count {
                    switch words[k] {
                    case "age":
                        guard k + 1 < words.count, let a = Int(words[k + 1]) else {
                            throw fail(lineNo, "expected a number after 'age'")
                        }
                        // born the day before the date, a years earlier: exactly a years old
                        let d = when.adding(days: -1).components
                        birth =
                            CivilDate(year: d.year - a, month: d.month, day: d.day)
                            ?? CivilDate(year: d.year - a, month: d.month, day: d.day - 1)
                        k += 2
                    case "born":
                        guard k + 1 < words.count, let d = CivilDate.parse(words[k + 1]) else {
                            throw fail(lineNo, "expected a date after 'born'")
                        }
                        birth = d; k += 2
                    case "local": local = true; k += 1
                    case "nonlocal": local = false; k += 1
                    case "male": male = true; k += 1
                    case "female": male = false; k += 1
                    case "deceased":
                        guard k + 1 < words.count, CivilDate.parse(words[k + 1]) != nil else {
                            throw fail(lineNo, "expected a date after 'deceased'")
                        }
                        tags.append(("civil.deceased_on", words[k + 1], lineNo)); k += 2
                    default: throw fail(lineNo, "unexpected '\(words[k])' in a person line")
                    }
                }
                guard let b = birth else { throw fail(lineNo, "a person needs 'age N' or 'born DATE'") }
                let p = RuleCase.Person(
                    name: words[1], relation: words[2], birth: b, local: local, male: male, tags: tags, line: lineNo)
                if inPrevious { c.previousPeople.append(p) } else { c.people.append(p) }
            case "expect":
                c.expectations.append((words.dropFirst().joined(separator: " "), lineNo))
                inPrevious = false
            case "event":
                // event OUTCOME DAYS [POLICY [for NAME]]: DAYS from the case's date (-179: 179 days before)
                guard words.count == 3 || words.count == 4 || (words.count == 6 && words[4] == "for"),
                    let offset = Int(words[2])
                else {
                    throw fail(
                        lineNo, "expected 'event OUTCOME DAYS [POLICY [for NAME]]', e.g. 'event declined -179 dibao'")
                }
                c.events.append(
                    (words[1], offset, words.count >= 4 ? words[3] : nil, words.count == 6 ? words[5] : nil, lineNo))
            default:
                // a tag line under a person: tag = value
                guard indent > 0, words.count == 3, words[1] == "=" else {
                    throw fail(lineNo, "expected 'tag = value', 'person ...' or 'expect ...'")
                }
                if inPrevious {
                    guard !c.previousPeople.isEmpty else {
                        throw fail(lineNo, "a tag line needs a person line before it")
                    }
                    c.previousPeople[c.previousPeople.count - 1].tags.append((words[0], words[2], lineNo))
                } else {
                    guard !c.people.isEmpty else { throw fail(lineNo, "a tag line needs a person line before it") }
                    c.people[c.people.count - 1].tags.append((words[0], words[2], lineNo))
                }
            }
        }
        return cases
    }
}

/// Runs rule cases against the compiled rules and reports each failure with a trace.
public struct RuleCaseRunner {
    public let rulesDirectory: String
    public let catalogue: TagCatalogue
    public let policyCatalogue: PolicyCatalogue

    public init(rulesDirectory: String, catalogue: TagCatalogue, policyCatalogue: PolicyCatalogue) {
        self.rulesDirectory = rulesDirectory
        self.catalogue = catalogue
        self.policyCatalogue = policyCatalogue
    }

    public struct Failure: Sendable {
        public var caseID: String; public var location: String; public var message: String
    }

    public func run(_ cases: [RuleCase]) throws -> (passed: Int, failures: [Failure], checks: Int) {
        var rulesByDate: [CivilDate: RuleSet] = [:]
        func rules(_ d: CivilDate) throws -> RuleSet {
            if let r = rulesByDate[d] { return r }
            let r = try RuleSet.load(
                directory: rulesDirectory, catalogue: catalogue, policyCatalogue: policyCatalogue, runDate: d)
            rulesByDate[d] = r
            return r
        }
        var failures: [Failure] = []
        var passed = 0, checks = 0
        for c in cases {
            var failed = false
            // Person names, each once, in order of first appearance: the same name is the same ID on both days.
            var names: [String] = []
            for p in c.people + c.previousPeople where !names.contains(p.name) { names.append(p.name) }
            do {
                var previous: PreviousHousehold?
                var wasOn = false
                if let pd = c.previousDate {
                    let prs = try rules(pd)
                    let pdata = try build(c.previousPeople, date: pd, names: names, caseRef: c)
                    let pctx = EvalContext(rules: prs, data: pdata)
                    if pctx.load(household: 0), let target = prs.rememberedList {
                        let es = prs.entries(pctx, wasOnAfterList: false)
                        if es.contains(where: { $0.list == target }) {
                            previous = pctx.remember()
                            wasOn = true
                        }
                    }
                }
                let rs: RuleSet
                do { rs = try rules(c.date) } catch let e as PipelineError
                    where c.expectations.contains(where: { $0.text == "refused" })
                {
                    _ = e
                    passed += 1
                    checks += 1
                    continue
                }
                if let line = c.expectations.first(where: { $0.text == "refused" })?.line {
                    failures.append(
                        Failure(
                            caseID: c.id, location: "\(c.file):\(line)",
                            message: "expected the run to be refused, but the rules load"))
                    continue
                }
                let data = try build(c.people, date: c.date, names: names, caseRef: c)
                let ctx = EvalContext(rules: rs, data: data)
                ctx.tracer = Tracer()
                ctx.setPersonLookup { key in Int32(data.personID.firstIndex(of: key) ?? -1) }
                ctx.load(household: 0, previous: previous)
                let events = try outreachEvents(c)
                let entries = rs.entries(ctx, wasOnAfterList: wasOn, events: events)
                let ids = Dictionary(
                    uniqueKeysWithValues: names.enumerated().map { ($1, RuleCaseRunner.id(for: $0, name: $1, in: c)) })
                for (text, line) in c.expectations {
                    checks += 1
                    if let problem = check(text, ctx: ctx, rules: rs, entries: entries, ids: ids, data: data) {
                        failures.append(Failure(caseID: c.id, location: "\(c.file):\(line)", message: problem))
                        failed = true
                    }
                }
            } catch let e as PipelineError {
                failures.append(
                    Failure(caseID: c.id, location: e.location ?? "\(c.file):\(c.line)", message: e.message))
                failed = true
            }
            if !failed { passed += 1 }
        }
        return (passed, failures, checks)
    }

    /// The case's outreach events, as the ingest stage would accept them.
    func outreachEvents(_ c: RuleCase) throws -> [OutreachEvent] {
        try c.events.map { e in
            guard let o = Outcome(spelling: e.outcome) else {
                throw PipelineError.badInput(location: "\(c.file):\(e.line)", "unknown outcome '\(e.outcome)'")
            }
            var key: UInt64 = 0
            if let name = e.person {
                var names: [String] = []
                for p in c.people + c.previousPeople where !names.contains(p.name) { names.append(p.name) }
                guard let i = names.firstIndex(of: name) else {
                    throw PipelineError.badInput(location: "\(c.file):\(e.line)", "no person named \(name)")
                }
                key = RuleCaseRunner.id(for: i, name: name, in: c).key
            }
            return OutreachEvent(
                household: "H1", person: key, policy: e.policy ?? "", outcome: o, channel: .phone,
                date: c.date.adding(days: e.offset).days)
        }
    }

    /// Stable IDs per person name within a case: the order of names gives the order of IDs.
    static func id(for index: Int, name: String, in c: RuleCase) -> IDNumber {
        let person = (c.people + c.previousPeople).first { $0.name == name }
        let birth = person?.birth ?? CivilDate.parse("1980-01-01")!
        let male = person?.male ?? true
        return IDNumber.make(area: 310101, birth: birth, sequence: (index % 400) * 2 + (male ? 1 : 0))
    }

    /// One household made of the case's people.
    func build(_ people: [RuleCase.Person], date: CivilDate, names: [String], caseRef: RuleCase) throws -> Households {
        var rows: [(id: IDNumber, p: RuleCase.Person)] = []
        for p in people {
            let idx = names.firstIndex(of: p.name)!
            rows.append((RuleCaseRunner.id(for: idx, name: p.name, in: caseRef), p))
        }
        rows.sort { $0.id < $1.id }
        let relation: [UInt8] = try rows.map { row in
            guard let rel = Relation.allCases.first(where: { $0.word == row.p.relation }) else {
                throw PipelineError.badInput(
                    location: "\(caseRef.file):\(row.p.line)", "unknown relation '\(row.p.relation)'")
            }
            return rel.rawValue
        }
        // Each tag's columns, person by person (rows are in person order).
        var person = [[Int32]](repeating: [], count: catalogue.tags.count)
        var value = [[Int64]](repeating: [], count: catalogue.tags.count)
        var asOf = [[Int32]](repeating: [], count: catalogue.tags.count)
        var conflict = [[UInt8]](repeating: [], count: catalogue.tags.count)
        for (pi, row) in rows.enumerated() {
            for (tag, text, line) in row.p.tags {
                guard let t = catalogue.index(of: tag) else {
                    throw PipelineError.badInput(location: "\(caseRef.file):\(line)", "unknown tag '\(tag)'")
                }
                person[t].append(Int32(pi))
                asOf[t].append(date.adding(days: -1).days)
                if text == "unknown" {
                    value[t].append(0); conflict[t].append(1)
                } else {
                    let parsed =
                        text.utf8.withContiguousStorageIfAvailable {
                            catalogue.tags[t].parse(UnsafeRawBufferPointer($0))
                        } ?? .bad
                    guard case .value(let v) = parsed else {
                        throw PipelineError.badInput(
                            location: "\(caseRef.file):\(line)",
                            "'\(text)' is not a valid \(catalogue.tags[t].type.name) for \(tag)")
                    }
                    value[t].append(v); conflict[t].append(0)
                }
            }
        }
        let tags = catalogue.tags.indices.map { t in
            ResolvedTag(
                person: Column(person[t]), value: Column(value[t]), asOf: Column(asOf[t]),
                conflict: Column(conflict[t]))
        }
        let deceasedTag = catalogue.index(of: "civil.deceased_on")
        let living: [UInt8] = rows.indices.map { pi in
            guard let dt = deceasedTag, let k = tags[dt].find(Int32(pi)), tags[dt].conflict[k] == 0 else {
                return 1
            }
            return tags[dt].value[k] <= Int64(date.days) ? 0 : 1
        }
        return Households(
            personID: Column(rows.map(\.id.key)), birth: Column(rows.map { $0.p.birth.days }),
            male: Column(rows.map { $0.p.male ? 1 : 0 }), relation: Column(relation),
            hukou: Column(rows.map { $0.p.local ? 0 : 1 }), living: Column(living),
            household: Column(rows.map { _ in 0 }), householdIDs: ["H1"], householdStart: [0, Int32(rows.count)],
            tags: tags, tagUnavailable: Column([UInt8](repeating: 0, count: catalogue.tags.count)))
    }

    /// Checks one expectation; nil when it holds, else what went wrong with a trace.
    func check(
        _ text: String, ctx: EvalContext, rules rs: RuleSet, entries: [ListEntry], ids: [String: IDNumber],
        data: Households
    ) -> String? {
        // expect [not] SUBJECT [for NAME]: DETAILS
        let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        var head = parts[0].split(separator: " ").map(String.init)
        let details = parts.count > 1 ? parts[1].split(separator: " ").map(String.init) : []
        var negate = false
        if head.first == "not" || head.first == "no" { negate = true; head.removeFirst() }
        var person: String?
        if let f = head.firstIndex(of: "for"), f + 1 < head.count { person = head[f + 1]; head.removeSubrange(f...) }
        func slot(_ name: String?) -> Int?? {
            guard let name else { return .some(nil) }
            guard let id = ids[name], let s = (0..<ctx.memberCount).first(where: { ctx.personID(slot: $0) == id })
            else { return .none }
            return .some(s)
        }
        func trace(_ p: PolicyInfo, _ s: Int?) -> String {
            let crit = ctx.criteria(p, slot: s).map { "\($0.code)=\(ctx.describe($0.value))" }.joined(separator: " ")
            return " [criteria: \(crit)]"
        }
        guard let subject = head.first else { return "nothing to check in '\(text)'" }
        switch subject {
        case "failed", "unknown":
            guard head.count >= 2, let p = rs.policy(head[1]) else {
                return "expected 'expect \(subject) POLICY [for NAME]: codes'"
            }
            guard let s = slot(person) else { return "no living member named \(person!)" }
            let d = ctx.decide(p, slot: s)
            let got = subject == "failed" ? d.failedCriteria : d.unknownFacts
            let want = (details.first ?? "").split(separator: ";").map { code -> String in
                // tag@NAME becomes tag@ID
                let bits = code.split(separator: "@")
                if bits.count == 2, let id = ids[String(bits[1])] { return "\(bits[0])@\(id)" }
                return String(code)
            }.sorted()
            return got == want ? nil : "\(subject) criteria of \(p.id): expected \(want), got \(got)" + trace(p, s)
        case "skipped":
            guard head.count >= 2, let p = rs.policy(head[1]) else { return "expected 'expect skipped POLICY'" }
            return (p.skipped != nil) != negate ? nil : "\(p.id) is \(p.skipped == nil ? "not " : "")skipped"
        case "value":
            guard head.count >= 2, let v = rs.value(head[1]) else {
                return "expected 'expect value NAME [for PERSON]: VALUE'"
            }
            guard let s = slot(person) else { return "no living member named \(person!)" }
            let got = ctx.describe(ctx.evaluate(v, slot: s))
            let want = details.joined(separator: " ")
            return got == want ? nil : "value \(v.id): expected \(want), got \(got)"
        case "members":
            let want = Int(details.first ?? "") ?? -1
            return ctx.memberCount == want ? nil : "members: expected \(want), got \(ctx.memberCount)"
        default:
            break
        }
        if let l = rs.list(subject) {
            if l.perPolicy {
                // expect [not] push: POLICY [for NAME] [confirmed|to_verify] [amount N]
                guard let pid = details.first, let p = rs.policy(pid) else {
                    return "expected 'expect \(subject): POLICY ...'"
                }
                var who: String?
                var rest = Array(details.dropFirst())
                if rest.first == "for", rest.count >= 2 { who = rest[1]; rest.removeFirst(2) }
                let personIndex: Int32? = who.flatMap { n in
                    ids[n].flatMap { id in data.personID.firstIndex(of: id.key).map(Int32.init) }
                }
                let e = entries.first { $0.list == l.id && $0.policy == pid && $0.person == personIndex }
                if negate {
                    return e == nil
                        ? nil
                        : "\(l.id) has \(pid)\(who.map { " for \($0)" } ?? "") but should not"
                            + trace(
                                p, personIndex.flatMap { pi in (0..<ctx.memberCount).first { ctx.member($0) == pi } })
                }
                guard let e else {
                    return "\(l.id) lacks \(pid)\(who.map { " for \($0)" } ?? "")"
                        + trace(p, personIndex.flatMap { pi in (0..<ctx.memberCount).first { ctx.member($0) == pi } })
                }
                var k = 0
                while k < rest.count {
                    switch rest[k] {
                    case "confirmed", "to_verify":
                        if e.decision.certainty.text != rest[k] {
                            return "\(l.id) \(pid): expected \(rest[k]), got \(e.decision.certainty.text)"
                        }
                        k += 1
                    case "amount":
                        let want = k + 1 < rest.count ? Int(rest[k + 1]) : nil
                        if e.decision.amount != want {
                            return
                                "\(l.id) \(pid): expected amount \(want.map(String.init) ?? "none"), got "
                                + "\(e.decision.amount.map(String.init) ?? "none")"
                        }
                        k += 2
                    case "failed":
                        let want = (k + 1 < rest.count ? rest[k + 1] : "").split(separator: ";").map(String.init)
                            .sorted()
                        let failed = e.decision.policy?.failedCriteria ?? []
                        if failed != want {
                            return "\(l.id) \(pid): expected failed \(want), got \(failed)"
                        }
                        k += 2
                    default: return "unexpected '\(rest[k])'"
                    }
                }
                return nil
            }
            let e = entries.first { $0.list == l.id }
            if negate {
                return e == nil ? nil : "on \(l.id) with \(e!.decision.codes.joined(separator: ";")) but should not be"
            }
            guard let e else {
                let vals = ctx.listReasonValues(l).map { "\($0.code)=\(ctx.describe($0.value))" }.joined(separator: " ")
                return "not on \(l.id) [reasons: \(vals)]"
            }
            let want = (details.first ?? "").split(separator: ";").map(String.init).sorted()
            if !want.isEmpty && e.decision.codes != want {
                return
                    "\(l.id): expected \(want.joined(separator: ";")), got \(e.decision.codes.joined(separator: ";"))"
            }
            return nil
        }
        guard let p = rs.policy(subject) else { return "unknown policy, list or check '\(subject)'" }
        guard let s = slot(person) else { return "no living member named \(person!)" }
        if p.level == .person && s == nil { return "\(p.id) is a person policy: add 'for NAME'" }
        let v = ctx.eligible(p, slot: s)
        let got = v.truth == true ? "eligible" : (v.truth == false ? "not_eligible" : "to_verify")
        guard let want = details.first else { return "expected 'expect \(p.id): eligible|not_eligible|to_verify'" }
        if got != want { return "\(p.id): expected \(want), got \(got)" + trace(p, s) }
        if details.count >= 2 {
            let a = ctx.amount(p, slot: s)
            if details[1] == "amount", details.count >= 3 {
                if details[2] == "none" {
                    if a != nil { return "\(p.id): expected no amount, got \(a!)" }
                } else if a != Int(details[2]) {
                    return "\(p.id): expected amount \(details[2]), got \(a.map(String.init) ?? "none")" + trace(p, s)
                }
            }
        }
        return nil
    }
}
