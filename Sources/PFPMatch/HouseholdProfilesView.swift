import Foundation
import PFPCore
import PFPIngest
import PFPRules
import PFPProfile

/// Stored profile values, as the match stage's evaluator reads them (StoredValues).
public final class HouseholdProfilesView: StoredValues {
    let profiles: HouseholdProfiles
    let map: [Int]  // rules value index -> profile value index (-1: not stored)

    /// `except`: values (indexes) computed, not read (a reform changes what they read).
    public init(_ p: HouseholdProfiles, rules: RuleSet, except: Set<Int> = []) {
        profiles = p
        map = rules.values.map { v in except.contains(v.index) ? -1 : p.valueIDs.firstIndex(of: v.id) ?? -1 }
    }
    init(profiles: HouseholdProfiles, map: [Int]) { self.profiles = profiles; self.map = map }

    /// A view of its own for one worker.
    func replica() -> HouseholdProfilesView { HouseholdProfilesView(profiles: profiles, map: map) }

    public func householdValue(_ v: Int, _ h: Int) -> Val? {
        map[v] >= 0 ? profiles.value(map[v], entity: h) : nil
    }
    public func personValue(_ v: Int, _ p: Int32) -> Val? {
        map[v] >= 0 ? profiles.value(map[v], entity: Int(p)) : nil
    }
}
