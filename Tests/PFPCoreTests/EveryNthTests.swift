import XCTest

@testable import PFPCore

/// `EveryNth` fires once for each n ticks, whichever threads tick.
final class EveryNthTests: XCTestCase {
    func testItFiresOnceEveryNTicksFromManyThreads() {
        final class Count: @unchecked Sendable {
            let lock = NSLock()
            var fired = 0
        }
        let count = Count()
        let every = EveryNth(4) {
            count.lock.lock()
            count.fired += 1
            count.lock.unlock()
        }
        Parallel.forEach(1_003) { _ in every.tick() }
        XCTAssertEqual(count.fired, 250)
        every.tick()
        XCTAssertEqual(count.fired, 251, "the 1,004th tick")
        let each = EveryNth(1) { count.fired += 1 }
        each.tick()
        XCTAssertEqual(count.fired, 252)
    }
}
