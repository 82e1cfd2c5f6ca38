import PFPRun

enum PFPRunVersion {
    static var text: String { "\(PFPVersion.pipeline) (output schema \(PFPVersion.schema))" }
}
