import SealDropCrypto
import Testing

@Suite("Hex")
struct HexTests {
    @Test("lowercase two digits a byte, read back; any other length or character is refused")
    func roundTrip() {
        let bytes: [UInt8] = [0x00, 0x0F, 0xA5, 0xFF, 0x10]
        #expect(Hex.encode(bytes) == "000fa5ff10")
        #expect(Hex.decode("000fa5ff10", byteCount: 5) == bytes)
        #expect(Hex.decode("000FA5FF10", byteCount: 5) == nil)
        #expect(Hex.decode("000fa5ff1", byteCount: 5) == nil)
        #expect(Hex.decode("000fa5ff1g", byteCount: 5) == nil)
        #expect(Hex.decode("+0", byteCount: 1) == nil)
        #expect(Hex.decode("", byteCount: 0) == [])
    }
}
