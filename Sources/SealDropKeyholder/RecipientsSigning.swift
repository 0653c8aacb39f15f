public import SealDropCLISupport

/// Signing the recipients list (`keyholder sign-recipients`).
public enum RecipientsSigning {
    /// The serial that follows `serial`; refused when there is none.
    public static func serial(after serial: UInt64) throws(CLIError) -> UInt64 {
        let (next, overflow) = serial.addingReportingOverflow(1)
        guard !overflow else {
            throw CLIError("the previous list's serial is \(serial), the largest there is: no later list can be signed with this signing key",
                           hint: "the daemon refuses a serial lower than one it accepted; make a new signing key (keyholder keygen --signing) and pin it on the daemon and in the drop address")
        }
        return next
    }
}
