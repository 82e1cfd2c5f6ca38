#!/usr/bin/env python3
"""An independent reading of shared/spec/policies.md, for cross-checking pfp.

Reads a delivery (feeds.md), computes the five lists by its own code (not from
the rule files) and compares them with a published run directory:

    scripts/crosscheck.py INBOX PUBLISHED_DIR [--previous PREV_INBOX]

Development tool only; pfp does not use it. Exits 1 when the lists differ.
"""
import csv, io, json, glob, sys, datetime, re
from fractions import Fraction as F

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]; C = "10X98765432"
def date(s):
    if len(s) != 10 or s[4] != '-' or s[7] != '-' or not (s[:4] + s[5:7] + s[8:]).isdigit(): return None
    try: return datetime.date(int(s[:4]), int(s[5:7]), int(s[8:]))
    except ValueError: return None
def pid(s):
    if len(s) == 15 and s.isdigit():
        b = s[:6] + '19' + s[6:]; s = b + C[sum(int(b[i]) * W[i] for i in range(17)) % 11]
    if len(s) != 18 or not s[:17].isdigit(): return None
    s = s[:17] + s[17].upper()
    if s[17] not in C or C[sum(int(s[i]) * W[i] for i in range(17)) % 11] != s[17]: return None
    if date(s[6:10] + '-' + s[10:12] + '-' + s[12:14]) is None: return None
    return s
POLICIES = ["dibao", "low_income", "expenditure_poverty", "tekun", "disability_living", "disability_care", "elderly_allowance",
            "elderly_care_subsidy", "child_difficulty", "medical_assistance", "education_assistance", "employment_assistance", "housing_assistance"]
HH = {"dibao", "low_income", "expenditure_poverty", "employment_assistance", "housing_assistance"}
CAT = {"income.wage": ("hr", "money", F(0)), "income.pension": ("hr", "money", F(0)),
       "employment.status": ("hr", "enum:employed|unemployed|retired|student|none", "none"),
       "income.other": ("tax", "money", F(0)), "medical.oop_12m": ("medical", "money", F(0)),
       "medical.inpatient_oop_12m": ("medical", "money", F(0)), "medical.serious_illness": ("medical", "bool", False),
       "disability.grade": ("disability", "int:1:4", "NONE"), "disability.category": ("disability", "enum:visual|hearing|speech|physical|intellectual|mental|multiple", "NONE"),
       "care.level": ("health", "int:0:6", 0), "civil.lives_alone": ("civil", "bool", False), "civil.has_supporter": ("civil", "bool", None),
       "civil.deceased_on": ("civil", "date", "NONE"), "education.stage": ("education", "enum:preschool|primary|junior|senior|vocational|college|none", "none"),
       "housing.units_owned": ("housing", "int:0:99", 0), "housing.area_m2": ("housing", "money", None), "housing.public_rental": ("housing", "bool", False),
       "assets.financial": ("verification", "money", None), "assets.vehicles": ("verification", "int:0:99", 0),
       "utility.arrears_months": ("utilities", "int:0:120", 0), "community.hardship_reported": ("community", "bool", False)}
for p in POLICIES: CAT["receiving." + p] = ("civil", "bool", False)
def parse(t, v):
    if t == "money":
        if not re.fullmatch(r'-?\d+(\.\d{1,2})?', v): return 'bad_value', None
        if v.startswith('-'): return 'out_of_range', None
        return None, F(v)
    if t.startswith("int"):
        _, lo, hi = t.split(':')
        if not re.fullmatch(r'-?\d+', v): return 'bad_value', None
        return (None, int(v)) if int(lo) <= int(v) <= int(hi) else ('out_of_range', None)
    if t == "bool":
        return (None, v in ('true', '1')) if v in ('true', 'false', '1', '0') else ('bad_value', None)
    if t == "date": return (None, date(v)) if date(v) else ('bad_value', None)
    words = t[5:].split('|')
    return (None, v) if v in words else ('bad_value', None)
def rows(path, enc):
    txt = open(path, 'rb').read().decode('gb18030' if enc == 'gb18030' else 'utf-8-sig')
    r = csv.reader(io.StringIO(txt, newline='')); hdr = next(r)
    return hdr, [rec for rec in r]

def load(inbox):
    mans = {}
    for m in glob.glob(inbox + '/*.manifest.json'):
        j = json.load(open(m)); mans[j['feed']] = (m[:-14], j)
    p, j = mans['population']; asof = date(j['as_of'])
    hdr, recs = rows(p, j['encoding']); ix = {h: i for i, h in enumerate(hdr)}
    need = ['id_number', 'sex', 'birth_date', 'household_id', 'relation', 'hukou', 'district', 'street', 'community']
    counts = {}
    for r in recs:
        if len(r) == len(hdr) and r[ix['id_number']]:
            i = pid(r[ix['id_number']])
            if i: counts[i] = counts.get(i, 0) + 1
    people = {}
    for r in recs:
        if len(r) != len(hdr): continue
        g = lambda c: r[ix[c]]
        if any(g(c) == '' for c in need): continue
        i = pid(g('id_number'))
        if not i or counts[i] > 1: continue
        b = date(i[6:10] + '-' + i[10:12] + '-' + i[12:14])
        if date(g('birth_date')) is None or b > asof: continue
        if g('sex') not in ('M', 'F') or g('relation') not in 'head spouse child parent grandchild sibling other'.split() or g('hukou') not in ('local', 'nonlocal'): continue
        d, s, c = g('district'), g('street'), g('community')
        if not (re.fullmatch(r'\d{6}', d) and re.fullmatch(r'\d{9}', s) and re.fullmatch(r'\d{12}', c) and s.startswith(d) and c.startswith(s)): continue
        if not re.fullmatch(r'[A-Za-z0-9-]{1,32}', g('household_id')): continue
        people[i] = dict(id=i, hh=g('household_id'), birth=b, rel=g('relation'), local=g('hukou') == 'local', codes=(d, s, c), tags={})
    obs = {}
    for feed, (p, j) in mans.items():
        if feed == 'population': continue
        fasof = date(j['as_of'])
        hdr, recs = rows(p, j['encoding']); ix = {h: i for i, h in enumerate(hdr)}
        for r in recs:
            if len(r) != len(hdr): continue
            g = lambda c: r[ix[c]]
            if any(g(c) == '' for c in ['id_number', 'tag', 'value', 'as_of']): continue
            i = pid(g('id_number'))
            if not i or i not in people: continue
            a = date(g('as_of'))
            if a is None or a > fasof: continue
            t = g('tag')
            if t not in CAT or CAT[t][0] != feed: continue
            err, v = parse(CAT[t][1], g('value'))
            if err: continue
            obs.setdefault((i, t), []).append((a, v))
    for (i, t), lst in obs.items():
        latest = max(a for a, _ in lst)
        vals = set(v for a, v in lst if a == latest)
        people[i]['tags'][t] = vals.pop() if len(vals) == 1 else None   # conflict: unknown
    return people

class U: pass
UNK = U()
def tag(p, t):
    if t in p['tags']: v = p['tags'][t]; return UNK if v is None else v
    d = CAT[t][2]
    return UNK if d is None else d
def AND(*xs):
    if any(x is False for x in xs): return False
    if any(x is UNK for x in xs): return UNK
    return True
def OR(*xs):
    if any(x is True for x in xs): return True
    if any(x is UNK for x in xs): return UNK
    return False
def NOT(x): return UNK if x is UNK else (not x)
def cmp(a, op, b):
    if a is UNK or b is UNK: return UNK
    if a == "NONE" or b == "NONE": return op == '!='
    return {'<': a < b, '<=': a <= b, '>': a > b, '>=': a >= b, '=': a == b, '!=': a != b}[op]
def add(*xs):
    if any(x is UNK for x in xs): return UNK
    return sum(xs, F(0))
def age(p, D):
    b = p['birth']; y = D.year - b.year
    if (D.month, D.day) < (b.month, b.day): y -= 1
    return y
def param(table, D):
    best = None
    for d, v in table:
        if d <= D: best = v
    return best
P = {'dibao.standard': [(datetime.date(2012,4,1),570),(datetime.date(2015,4,1),790),(datetime.date(2016,4,1),880),(datetime.date(2017,4,1),970),(datetime.date(2018,4,1),1070),(datetime.date(2019,4,1),1160),(datetime.date(2020,4,1),1240),(datetime.date(2021,7,1),1330),(datetime.date(2022,7,1),1420),(datetime.date(2023,7,1),1510),(datetime.date(2024,7,1),1550),(datetime.date(2025,7,1),1590)],
     'dibao.asset_limit_pc': [(datetime.date(2016,4,1),30000),(datetime.date(2021,4,1),40000)],
     'low_income.asset_limit_pc': [(datetime.date(2016,4,1),60000),(datetime.date(2021,4,1),80000)],
     'living_a': [(datetime.date(2016,1,1),330),(datetime.date(2021,7,1),410)], 'living_b': [(datetime.date(2016,1,1),300),(datetime.date(2021,7,1),410)],
     'ratio': [(datetime.date(2016,1,1),F('0.8')),(datetime.date(2020,1,1),F('0.9'))]}
def rnd(q): return int((2 * q + 1) // 2)

def evaluate(people, D, prev=None):
    line = F(param(P['dibao.standard'], D)); low = 2 * line
    hh = {}
    for p in people.values(): hh.setdefault(p['hh'], []).append(p)
    out = {'push': {}, 'review': {}, 'referral': {}, 'watch': {}, 'warning': {}}
    state = {}
    for h, all_members in sorted(hh.items()):
        def dead(p):
            d = tag(p, 'civil.deceased_on'); return d not in (UNK, "NONE") and d <= D
        M = sorted([p for p in all_members if not dead(p)], key=lambda p: p['id'])
        if not M: continue
        n = len(M)
        heads = [p for p in M if p['rel'] == 'head']; head = heads[0] if len(heads) == 1 else M[0]
        inc = {p['id']: add(tag(p, 'income.wage'), tag(p, 'income.pension'), tag(p, 'income.other')) for p in M}
        suminc = add(*inc.values()); pc = UNK if suminc is UNK else suminc / n
        assets = add(*[tag(p, 'assets.financial') for p in M]); pca = UNK if assets is UNK else assets / n
        veh = add(*[F(tag(p, 'assets.vehicles')) if tag(p, 'assets.vehicles') is not UNK else UNK for p in M])
        units = add(*[F(tag(p, 'housing.units_owned')) if tag(p, 'housing.units_owned') is not UNK else UNK for p in M])
        oop = add(*[tag(p, 'medical.oop_12m') for p in M]); pcoop = UNK if oop is UNK else oop / 12 / n
        areas = [tag(p, 'housing.area_m2') for p in M if tag(p, 'housing.area_m2') is not UNK]
        areapc = max(areas) / n if areas else UNK
        local = head['local']
        def recv(pol, p=None):
            if p is not None: return tag(p, 'receiving.' + pol)
            return OR(*[tag(p2, 'receiving.' + pol) for p2 in M])
        common = lambda limit: AND(cmp(pca, '<=', F(limit)), cmp(veh, '=', 0), cmp(units, '<=', 1))
        el = {}
        el['dibao'] = AND(local, cmp(pc, '<', line), common(param(P['dibao.asset_limit_pc'], D)))
        el['low_income'] = AND(local, cmp(pc, '>=', line), cmp(pc, '<', low), common(param(P['low_income.asset_limit_pc'], D)))
        after = UNK if pc is UNK or pcoop is UNK else pc - pcoop
        el['expenditure_poverty'] = AND(local, cmp(pc, '>=', line), cmp(after, '<', line), common(param(P['low_income.asset_limit_pc'], D)))
        amt = {'dibao': None if pc is UNK else rnd(n * (line - pc)), 'expenditure_poverty': None if after is UNK else rnd(n * (line - after))}
        has = lambda pol: OR(recv(pol), el[pol])
        def grade(p): return tag(p, 'disability.grade')
        def severe(p): g = grade(p); return UNK if g is UNK else (g != "NONE" and g <= 2)
        def student(p): s = tag(p, 'employment.status'); return UNK if s is UNK else s == 'student'
        def wa(p): a = age(p, D); return AND(16 <= a < 60, NOT(student(p)), NOT(severe(p)))
        pel = {}
        for p in M:
            a = age(p, D); i = p['id']; loc = p['local']
            tk = AND(loc, n == 1, OR(a >= 60, severe(p)), cmp(inc[i], '<', line), cmp(tag(p, 'civil.has_supporter'), '=', False))
            pel[('tekun', i)] = (tk, rnd(F('1.3') * line))
        hastek = lambda p: OR(tag(p, 'receiving.tekun'), pel[('tekun', p['id'])][0])
        for p in M:
            a = age(p, D); i = p['id']; loc = p['local']; g = grade(p)
            disabled = UNK if g is UNK else g != "NONE"
            st = tag(p, 'employment.status')
            ba = AND(severe(p), 16 <= a < 60, cmp(st, '!=', 'employed'), cmp(tag(p, 'income.pension'), '=', 0))
            bb, bc = has('dibao'), has('low_income')
            amounts = [param(P['living_a'], D), param(P['living_b'], D), 200]
            bs = [ba, bb, bc]
            la = None
            for b, am in zip(bs, amounts):
                if b is True: la = am; break
            if la is None:
                for b, am in zip(bs, amounts):
                    if b is UNK: la = am; break
            pel[('disability_living', i)] = (AND(loc, disabled, OR(*bs)), la)
            sev = OR(cmp(g, '>=', 1) if g not in (UNK,) and g != "NONE" else (UNK if g is UNK else False), False)
            sev = UNK if g is UNK else (g != "NONE" and (g <= 2 or (g == 3 and (UNK if tag(p, 'disability.category') is UNK else tag(p, 'disability.category') == 'intellectual'))))
            if sev is not UNK and g != "NONE" and g == 3 and tag(p, 'disability.category') is UNK: sev = UNK
            ca = None if g is UNK else (300 if g == 1 else 150)
            pel[('disability_care', i)] = (AND(loc, sev), ca)
            band = None
            for k, v in [(65, 75), (70, 150), (80, 180), (90, 350), (100, 600)]:
                if a >= k: band = v
            pel[('elderly_allowance', i)] = (AND(loc, a >= 65), band)
            cl = tag(p, 'care.level')
            cb = None if cl is UNK else {2: 300, 3: 400, 4: 500, 5: 600, 6: 700}.get(cl)
            pel[('elderly_care_subsidy', i)] = (AND(loc, a >= 60, cmp(cl, '>=', 2), OR(has('dibao'), has('low_income'))), cb)
            adults = [q for q in M if age(q, D) >= 18]
            pel[('child_difficulty', i)] = (AND(loc, a < 18, AND(*[OR(severe(q), tag(q, 'medical.serious_illness')) for q in adults])), 1800)
            ip = tag(p, 'medical.inpatient_oop_12m')
            pel[('medical_assistance', i)] = (AND(cmp(ip, '>', 0), OR(has('dibao'), has('low_income'), has('expenditure_poverty'), hastek(p))),
                                              None if ip is UNK else rnd(param(P['ratio'], D) * ip))
            pel[('education_assistance', i)] = (AND(cmp(tag(p, 'education.stage'), '!=', 'none'), OR(has('dibao'), has('low_income'), hastek(p))), None)
        was = [wa(p) for p in M]
        cnt = UNK if any(w is UNK for w in was) else sum(1 for w in was if w is True)
        el['employment_assistance'] = AND(local, cmp(cnt, '>=', 1), AND(*[OR(NOT(w), cmp(tag(p, 'employment.status'), '!=', 'employed')) for w, p in zip(was, M)]),
                                          OR(*[AND(w, cmp(tag(p, 'employment.status'), '=', 'unemployed')) for w, p in zip(was, M)]))
        el['housing_assistance'] = AND(local, cmp(pc, '<', low), cmp(areapc, '<', F(15)), AND(*[cmp(tag(p, 'housing.public_rental'), '=', False) for p in M]))
        amt['low_income'] = amt['employment_assistance'] = amt['housing_assistance'] = None
        codes = (head['codes'])
        for pol in ['dibao', 'low_income', 'expenditure_poverty', 'employment_assistance', 'housing_assistance']:
            e, r = el[pol], recv(pol)
            if AND(OR(e is True, e is UNK), NOT(r)) is True:
                out['push'][(h, '', pol)] = ('confirmed' if e is True else 'to_verify', amt[pol])
            if AND(r, e is False) is True: out['review'][(h, '', pol)] = True
        for (pol, i), (e, a) in pel.items():
            p = people[i]; r = recv(pol, p)
            if AND(OR(e is True, e is UNK), NOT(r)) is True:
                out['push'][(h, i, pol)] = ('confirmed' if e is True else 'to_verify', a)
            if AND(r, e is False) is True: out['review'][(h, i, pol)] = True
        unc = AND(*[has(x) is False for x in ['dibao', 'low_income', 'expenditure_poverty']], *[hastek(p) is False for p in M])
        reasons = []
        if unc is True:
            if cmp(pc, '<', F('1.2') * low) is True: reasons.append('low_income_margin')
            if cmp(oop, '>', F('0.3') * 12 * suminc if suminc is not UNK else UNK) is True: reasons.append('medical_burden')
            if OR(*[tag(p, 'community.hardship_reported') for p in M]) is True: reasons.append('hardship_reported')
            if OR(*[cmp(tag(p, 'utility.arrears_months'), '>=', 3) for p in M]) is True: reasons.append('utility_arrears')
        if has('dibao') is True and OR(*[OR(tag(p, 'medical.serious_illness'), cmp(tag(p, 'care.level'), '>=', 4)) for p in M]) is True:
            reasons.append('still_in_need')
        if reasons: out['referral'][h] = sorted(reasons)
        outside = all(el[x] is False for x in ['dibao', 'low_income', 'expenditure_poverty']) and all(recv(x) is False for x in ['dibao', 'low_income', 'expenditure_poverty'])
        wr = []
        if outside:
            if cmp(pc, '<', F('1.5') * low) is True: wr.append('income_margin')
            if any(age(p, D) >= 75 and tag(p, 'civil.lives_alone') is True for p in M): wr.append('elderly_alone')
            if any(severe(p) is True for p in M): wr.append('severe_disability')
            if any(tag(p, 'medical.serious_illness') is True for p in M): wr.append('serious_illness')
        if wr:
            out['watch'][h] = sorted(wr)
            state[h] = dict(pc=pc, members={p['id']: (tag(p, 'medical.inpatient_oop_12m'), tag(p, 'utility.arrears_months')) for p in M})
        if prev is not None and h in prev:
            ps = prev[h]; tr = []
            if any(el[x] is not False for x in ['dibao', 'low_income', 'expenditure_poverty']): tr.append('became_eligible')
            if ps['pc'] is not UNK and pc is not UNK and ps['pc'] > 0 and ps['pc'] - pc >= F('0.3') * ps['pc']: tr.append('income_drop')
            if any(p['id'] in ps['members'] and cmp(tag(p, 'medical.inpatient_oop_12m'), '>', ps['members'][p['id']][0]) is True for p in M): tr.append('new_inpatient')
            if any(p['id'] in ps['members'] and cmp(tag(p, 'utility.arrears_months'), '>=', 3) is True and cmp(ps['members'][p['id']][1], '<', 3) is True for p in M): tr.append('arrears')
            for q in ps['members']:
                if q not in [p['id'] for p in M] and q in people and dead(people[q]): tr.append('member_died'); break
            if tr: out['warning'][h] = sorted(tr)
    return out, state

def published(d):
    got = {}
    def r(n): return list(csv.DictReader(open(f"{d}/{n}.csv", newline='')))
    got['push'] = {(x['household_id'], x['person_id'], x['policy']): (x['certainty'], int(x['amount']) if x['amount'] else None) for x in r('push')}
    got['review'] = {(x['household_id'], x['person_id'], x['policy']): True for x in r('review')}
    got['referral'] = {x['household_id']: x['reasons'].split(';') for x in r('referral')}
    got['watch'] = {x['household_id']: x['reasons'].split(';') for x in r('watch')}
    got['warning'] = {x['household_id']: x['triggers'].split(';') for x in r('warning')}
    return got

if __name__ == '__main__':
    inbox, pub = sys.argv[1], sys.argv[2]
    D = date(pub.rstrip('/').split('/')[-1])
    prev = None
    if '--previous' in sys.argv:
        pin = sys.argv[sys.argv.index('--previous') + 1]
        pd = date(pin.rstrip('/')[-10:])
        _, prev = evaluate(load(pin), pd)
    want, _ = evaluate(load(inbox), D, prev)
    got = published(pub)
    bad = 0
    for l in want:
        w, g = want[l], got[l]
        missing = sorted(set(w) - set(g)); extra = sorted(set(g) - set(w))
        diff = sorted(k for k in set(w) & set(g) if w[k] != g[k])
        print(f"{l}: expected {len(w)}, published {len(g)}, missing {len(missing)}, extra {len(extra)}, different {len(diff)}")
        for k in missing[:5]: print("   missing", k, w[k])
        for k in extra[:5]: print("   extra", k, g[k])
        for k in diff[:5]: print("   differs", k, "expected", w[k], "published", g[k])
        bad += len(missing) + len(extra) + len(diff)
    sys.exit(1 if bad else 0)
