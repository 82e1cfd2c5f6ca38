import Foundation
import PFPCore

/// One person of the synthetic city on one day.
struct SamplePerson {
    var slot: Int  // global person number: household * 8 + member
    var birth: CivilDate
    var male: Bool
    var relation: String
    var local: Bool
    var status: String = "none"  // employment.status
    var wage: Int64 = 0  // fen
    var pension: Int64 = 0
    var other: Int64 = 0
    var oop: Int64 = 0
    var inpatient: Int64 = 0
    var serious = false
    var grade = 0  // 0: not disabled
    var category = ""
    var care = 0
    var livesAlone = false
    var hasSupporter: Bool?  // nil: not delivered (unknown)
    var deceasedOn: CivilDate?
    var receiving: [String] = []
    var stage = "none"
    var units = 0
    var area: Int64?  // fen of square metres (money-typed)
    var publicRental = false
    var assets: Int64?  // nil: not verified (unknown)
    var vehicles = 0
    var arrears = 0
    var hardship = false
    /// Day index on which each changeable fact last changed (for as_of).
    var changedOn: [String: Int] = [:]
}

struct SampleHousehold {
    var index: Int
    var id: String
    var district: Int
    var street: Int
    var community: Int
    var members: [SamplePerson]
}

/// Knobs from Pipelines/sample.conf.
package struct SampleKnobs: Sendable {
    package var lineFen: Int64 = 159_000
    package var historyDays = 40
    package var receiving: [String: [String]] = [:]
    package var takeUpPercent = 85.0
    package var stalePercent = 2.0

    package init() {}

    package init(path: String) throws {
        let f = try ConfigFile(path: path)
        for e in f.top.entries {
            switch e.key {
            case "reference_line_yuan":
                guard let v = Int64(e.value), v > 0 else {
                    throw PipelineError.badInput(location: f.location(e), "expected a whole number of yuan")
                }
                lineFen = v * 100
            case "take_up_percent", "stale_receiving_percent":
                guard let v = Double(e.value), v >= 0, v <= 100 else {
                    throw PipelineError.badInput(location: f.location(e), "expected a percentage")
                }
                if e.key == "take_up_percent" { takeUpPercent = v } else { stalePercent = v }
            case "history_days":
                guard let v = Int(e.value), v >= 0 else {
                    throw PipelineError.badInput(location: f.location(e), "expected a whole number of days")
                }
                historyDays = v
            default:
                if e.key.hasPrefix("receiving_") {
                    receiving[String(e.key.dropFirst("receiving_".count))] = e.value.split(separator: " ").map(
                        String.init)
                } else {
                    throw PipelineError.badInput(location: f.location(e), "unknown setting '\(e.key)'")
                }
            }
        }
    }
}

/// The made-up city: every household derived from (seed, household number), and
/// each later day from the day before by a few random events. Households do
/// not depend on each other, so any range can be made on any thread.
struct SampleWorld {
    let seed: UInt64
    let firstDay: CivilDate
    let knobs: SampleKnobs

    static let districts = [
        310101, 310104, 310105, 310106, 310107, 310109, 310110, 310112,
        310113, 310114, 310115, 310116, 310117, 310118, 310120, 310151,
    ]

    /// A unique, valid ID for a person slot: the area code and sequence come from the slot.
    static func idNumber(slot: Int, birth: CivilDate, male: Bool) -> IDNumber {
        let block = slot / 500
        let area = 110000 + block % 540000
        let seq = (slot % 500) * 2 + (male ? 1 : 0)
        return IDNumber.make(area: area, birth: birth, sequence: seq)
    }

    func household(_ h: Int, day: Int) -> SampleHousehold {
        var hh = base(h)
        if day > 0 { for d in 1...day { evolve(&hh, day: d) } }
        return hh
    }

    func date(_ day: Int) -> CivilDate { firstDay.adding(days: day) }

    private func birth(_ rng: inout SplitMix64, age: Int, on d: CivilDate) -> CivilDate {
        // A birthday somewhere in the year that gives `age` on d; now and then 29 February.
        if rng.chance(0.3) {
            var y = d.components.year - age - 1
            while !CivilDate.isLeap(y) { y -= 1 }
            return CivilDate(year: y, month: 2, day: 29)!
        }
        return d.adding(days: -(age * 365 + age / 4 + rng.below(365)))
    }

    private func base(_ h: Int) -> SampleHousehold {
        var rng = SplitMix64(seed, UInt64(h), 0)
        let runDate = firstDay
        let district = SampleWorld.districts[rng.below(SampleWorld.districts.count)]
        let street = district * 1000 + rng.range(1, 30)
        let community = street * 1000 + rng.range(1, 40)
        // Household shape: Shanghai has many one- and two-person elderly households.
        let sizeRoll = rng.below(100)
        let size = sizeRoll < 24 ? 1 : sizeRoll < 58 ? 2 : sizeRoll < 80 ? 3 : sizeRoll < 91 ? 4 : sizeRoll < 97 ? 5 : 6
        let ageRoll = rng.below(100)
        let headAge = ageRoll < 30 ? rng.range(60, 99) : ageRoll < 35 ? rng.range(18, 25) : rng.range(26, 59)
        let local = rng.below(100) < 72
        var members: [SamplePerson] = []
        func add(_ rel: String, age: Int, male: Bool) {
            let slot = h * 8 + members.count
            let own = members.isEmpty ? local : (rng.below(100) < 92 ? local : !local)
            members.append(
                SamplePerson(
                    slot: slot, birth: birth(&rng, age: max(0, age), on: runDate), male: male, relation: rel, local: own
                ))
        }
        let headMale = rng.below(2) == 0
        add("head", age: headAge, male: headMale)
        if size >= 2 {
            if headAge >= 25 && rng.below(100) < 80 {
                add("spouse", age: max(18, headAge + rng.range(-6, 6)), male: !headMale)
            } else if headAge < 60 {
                add("parent", age: min(99, headAge + rng.range(22, 35)), male: rng.below(2) == 0)
            } else {
                add("child", age: max(0, headAge - rng.range(22, 38)), male: rng.below(2) == 0)
            }
        }
        while members.count < size {
            let r = rng.below(100)
            if headAge >= 22 && headAge < 70 && r < 65 {
                add("child", age: max(0, min(headAge - 18, rng.range(0, 30))), male: rng.below(2) == 0)
            } else if headAge < 60 && r < 85 {
                add("parent", age: min(99, headAge + rng.range(22, 35)), male: rng.below(2) == 0)
            } else if headAge >= 55 && r < 90 {
                add("grandchild", age: rng.range(0, 17), male: rng.below(2) == 0)
            } else {
                add(["sibling", "other"][rng.below(2)], age: rng.range(10, 80), male: rng.below(2) == 0)
            }
        }
        // A few households without a head, or with two.
        if rng.chance(0.4) {
            members[0].relation = "other"
        } else if size >= 2 && rng.chance(0.4) {
            members[1].relation = "head"
        }

        // Per-capita income target: many households near the lines.
        let line = knobs.lineFen
        let band = rng.below(100)
        var pcTarget: Int64
        switch band {
        case 0..<8: pcTarget = Int64(rng.below(Int(line)))
        case 8..<20: pcTarget = line * Int64(rng.range(85, 115)) / 100
        case 20..<30: pcTarget = line * Int64(rng.range(180, 220)) / 100
        case 30..<42: pcTarget = line * Int64(rng.range(220, 360)) / 100
        default: pcTarget = line * Int64(rng.range(300, 1500)) / 100
        }
        if rng.chance(2) { pcTarget = line }  // exactly on the line
        if rng.chance(1) { pcTarget = 2 * line }
        let total = pcTarget * Int64(size)
        // Who earns: working-age employed and retirees with pensions.
        var earners: [Int] = []
        for i in members.indices {
            let age = members[i].birth.age(on: runDate)
            if age >= 6 && age <= 22 && members[i].relation != "head" { members[i].status = "student"; continue }
            if age >= 60 {
                members[i].status = rng.below(100) < 88 ? "retired" : "none";
                if members[i].status == "retired" { earners.append(i) }; continue
            }
            if age >= 16 {
                let r = rng.below(100)
                members[i].status = r < 70 ? "employed" : r < 80 ? "unemployed" : "none"
                if members[i].status == "employed" { earners.append(i) }
            }
        }
        if !earners.isEmpty {
            var left = total
            for (k, i) in earners.enumerated() {
                let share = k == earners.count - 1 ? left : left * Int64(rng.range(30, 70)) / 100
                left -= share
                var amount = share
                if rng.below(100) < 60 { amount = amount / 100 * 100 }  // many whole yuan
                if members[i].status == "retired" { members[i].pension = amount } else { members[i].wage = amount }
                if rng.chance(8) && amount > 20_000 {
                    let o = amount / Int64(rng.range(3, 10)) / 100 * 100
                    members[i].other = o
                    if members[i].status == "retired" { members[i].pension -= o } else { members[i].wage -= o }
                }
            }
        }
        // Health, disability, care.
        for i in members.indices {
            let age = members[i].birth.age(on: runDate)
            if rng.chance(28) { members[i].oop = Int64(rng.range(100, 60_000)) * 100 + Int64(rng.below(100)) }
            if members[i].oop > 0 && rng.chance(18) {
                members[i].inpatient = members[i].oop * Int64(rng.range(20, 90)) / 100
            }
            if rng.chance(age >= 60 ? 6 : 2) { members[i].serious = true; members[i].oop += 3_000_000 }
            if rng.chance(age >= 60 ? 9 : 3) {
                members[i].grade = rng.range(1, 4)
                members[i].category =
                    ["visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple"][rng.below(7)]
            }
            if age >= 60 && rng.chance(25) { members[i].care = rng.range(1, 6) }
            if age >= 60 || members[i].grade > 0 {
                // the supporter fact is delivered for most, unknown for some
                if rng.below(100) < 80 { members[i].hasSupporter = rng.below(100) < 75 }
            }
            if age >= 3 && age <= 22 && members[i].status == "student" || (age >= 3 && age < 6) {
                members[i].stage =
                    age < 6
                    ? "preschool"
                    : age < 12
                        ? "primary"
                        : age < 15 ? "junior" : age < 18 ? (rng.below(4) == 0 ? "vocational" : "senior") : "college"
            }
            if rng.chance(85) {
                members[i].assets =
                    pcTarget < line * 2 ? Int64(rng.range(0, 50_000)) * 100 : Int64(rng.range(0, 900_000)) * 100
            }
            if pcTarget > line * 3 && rng.chance(25) { members[i].vehicles = 1 }
        }
        if size == 1 && members[0].birth.age(on: runDate) >= 60 && rng.below(100) < 75 { members[0].livesAlone = true }
        members[0].units = pcTarget < line * 2 ? (rng.below(100) < 60 ? 1 : 0) : rng.range(0, 2)
        if rng.below(100) < 92 {
            members[0].area = Int64(rng.range(8, 45) * size) * 100 + (rng.chance(30) ? Int64(rng.below(100)) : 0)
        }
        if pcTarget < line * 2 && rng.chance(12) { members[0].publicRental = true }
        if rng.chance(3) { members[0].arrears = rng.range(1, 6) }
        if rng.chance(2) || (pcTarget < line && rng.chance(8)) { members[0].hardship = true }
        // Receiving tags: most who (roughly) qualify receive; in a few households
        // (stale_receiving_percent) someone receives a benefit without qualifying.
        func give(_ group: String, to i: Int, qualifies: Bool) {
            guard qualifies, let list = knobs.receiving[group], !list.isEmpty, rng.chance(knobs.takeUpPercent) else {
                return
            }
            members[i].receiving.append(list[rng.below(list.count)])
        }
        let localHead = members[0].local
        give("below_line", to: 0, qualifies: localHead && pcTarget < line)
        give("below_low_line", to: 0, qualifies: localHead && pcTarget >= line && pcTarget < 2 * line)
        for i in members.indices {
            let age = members[i].birth.age(on: runDate)
            give("elderly", to: i, qualifies: members[i].local && age >= 65)
            give(
                "severe_disability", to: i,
                qualifies: members[i].local && members[i].grade >= 1 && members[i].grade <= 2)
        }
        let noneEmployed = !members.contains { $0.status == "employed" }
        if members.contains(where: { $0.status == "unemployed" }) {
            give("unemployed", to: 0, qualifies: localHead && noneEmployed)
        }
        if rng.chance(knobs.stalePercent) {
            let groups = knobs.receiving.keys.sorted()
            if !groups.isEmpty, let list = knobs.receiving[groups[rng.below(groups.count)]], !list.isEmpty {
                members[rng.below(members.count)].receiving.append(list[rng.below(list.count)])
            }
        }
        for i in members.indices { members[i].receiving = Array(Set(members[i].receiving)).sorted() }
        // A few people already died before the first day.
        for i in members.indices where members[i].birth.age(on: runDate) >= 70 && rng.chance(1.5) {
            members[i].deceasedOn = runDate.adding(days: -rng.range(2, 30))
        }
        let id = "H" + String(repeating: "0", count: max(0, 10 - String(h).count)) + String(h)
        return SampleHousehold(
            index: h, id: id, district: district, street: street, community: community, members: members)
    }

    /// The changes one night brings (day >= 1).
    private func evolve(_ hh: inout SampleHousehold, day: Int) {
        var rng = SplitMix64(seed, UInt64(hh.index), UInt64(day))
        let today = date(day)
        for i in hh.members.indices where hh.members[i].deceasedOn == nil {
            var p = hh.members[i]
            if p.wage > 0 && rng.chance(2.5) {
                if rng.below(3) == 0 {
                    p.wage = 0; p.status = "unemployed"
                } else {
                    p.wage = p.wage * Int64(rng.range(30, 65)) / 100
                }
                p.changedOn["hr"] = day
            }
            if rng.chance(1.2) {
                p.inpatient += Int64(rng.range(500, 40_000)) * 100
                p.oop += p.inpatient
                p.changedOn["medical"] = day
            }
            if i == 0 && rng.chance(1.5) { p.arrears += 3; p.changedOn["utilities"] = day }
            if p.birth.age(on: today) >= 75 && rng.chance(0.8) {
                p.deceasedOn = today.adding(days: -1); p.changedOn["civil"] = day
            }
            if p.assets == nil && rng.chance(3) {
                p.assets = Int64(rng.range(0, 40_000)) * 100; p.changedOn["verification"] = day
            }
            if rng.chance(0.5) && !p.receiving.isEmpty { p.receiving.removeLast(); p.changedOn["civil"] = day }
            hh.members[i] = p
        }
    }
}
