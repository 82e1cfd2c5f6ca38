import Foundation
import PFPCore
import PFPCommandLine

// A file-size limit (or a quota) must surface as a write error with a message, not kill the process.
signal(SIGXFSZ, SIG_IGN)
FileIO.tuneMemory()
Tool.main(Array(CommandLine.arguments.dropFirst()), console: Console.shared)
