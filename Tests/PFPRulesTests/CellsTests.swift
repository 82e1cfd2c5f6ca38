import XCTest
@testable import PFPRules

final class CellsTests: XCTestCase {
    func testCellsGrowResetAndFill() {
        var c = Cells<Int32>()
        XCTAssertTrue(c.isEmpty)
        for i in 0..<1000 { c.append(Int32(i * 3)) }  // grows past its first room many times
        XCTAssertEqual(c.count, 1000)
        XCTAssertEqual(c.array, (0..<1000).map { Int32($0 * 3) })
        c[7] = -1
        XCTAssertEqual(c[7], -1)
        c.reset(count: 5, to: 9)
        XCTAssertEqual(c.array, [9, 9, 9, 9, 9])
        c.reset(count: 5000, to: 2)  // more than its room: new memory, every cell set
        XCTAssertEqual(c.count, 5000)
        XCTAssertTrue(c.array.allSatisfy { $0 == 2 })
        c.fill(4)
        XCTAssertTrue(c.array.allSatisfy { $0 == 4 })
        c.removeAll()
        XCTAssertEqual(c.array, [])

        let v = Cells<Val?>([.bool(true), nil, .num(Q(7, 2))])
        XCTAssertEqual(v.array, [.bool(true), nil, .num(Q(7, 2))])
        v.fill(nil)
        XCTAssertEqual(v.array, [nil, nil, nil])
    }

    /// The evaluator reads the program unchecked: the check made before must
    /// pass the reference rules and catch an operand out of range.
    func testProgramCheckCatchesOperandsOutOfRange() throws {
        let rs = try loadRules()
        let tags = rs.catalogue.tags.count, values = rs.values.count, policies = rs.policies.count
        func problem(_ p: Program, lets: Int? = nil) -> String? {
            ProgramCells.problem(p, tags: tags, values: values, policies: policies, lets: lets ?? rs.letCount)
        }
        XCTAssertNil(problem(rs.program))

        func broken(_ op: Node.Op, _ change: (inout Node, Program) -> Void) throws -> String? {
            var p = rs.program
            let i = try XCTUnwrap(p.nodes.firstIndex { $0.op == op }, "the reference rules have a \(op) node")
            change(&p.nodes[i], p)
            return problem(p)
        }
        XCTAssertEqual(
            try broken(.and) { n, p in n.b = Int32(p.nodes.count) }?.contains("(and) has an operand out of range"), true
        )
        XCTAssertEqual(try broken(.compare) { n, _ in n.a = -1 }?.contains("(compare)"), true)
        XCTAssertEqual(try broken(.tag) { n, _ in n.a = Int32(tags) }?.contains("(tag)"), true)
        XCTAssertEqual(try broken(.value) { n, _ in n.a = Int32(values) }?.contains("(value)"), true)
        XCTAssertEqual(try broken(.eligible) { n, _ in n.a = Int32(policies) }?.contains("(eligible)"), true)
        XCTAssertEqual(try broken(.parameter) { n, p in n.a = Int32(p.constants.count) }?.contains("(parameter)"), true)
        XCTAssertEqual(try broken(.band) { n, p in n.b = Int32(p.tables.count) }?.contains("(band)"), true)
        XCTAssertNil(try broken(.aggregate) { n, _ in n.a = -1 }, "an aggregate without a filter is allowed")
        // Operators are read back as enums unchecked: a byte no case has is caught here.
        XCTAssertEqual(try broken(.arithmetic) { n, _ in n.detail = 4 }?.contains("(arithmetic)"), true)
        XCTAssertEqual(try broken(.aggregate) { n, _ in n.detail = 6 }?.contains("(aggregate)"), true)
        XCTAssertEqual(try broken(.truthTest) { n, _ in n.detail = 4 }?.contains("(truthTest)"), true)
        XCTAssertEqual(try broken(.builtin) { n, _ in n.detail = 4 }?.contains("(builtin)"), true)
        XCTAssertEqual(problem(rs.program, lets: 0)?.contains("(cachedLet)"), rs.letCount > 0 ? true : nil)
        XCTAssertEqual(
            ProgramCells.problem(rs.program, tags: tags, values: values + 1, policies: policies, lets: rs.letCount),
            "values laid out wrong")
        XCTAssertEqual(
            ProgramCells.problem(rs.program, tags: tags, values: values, policies: policies + 1, lets: rs.letCount),
            "policies laid out wrong")
    }
}
