/// Where a reader gets a submission's bytes: a file, a socket, an array in a test.
public protocol ByteSource {
    /// Reads up to `buffer.count` bytes, returning how many were read; 0 means end of input.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ByteSource {
    /// Reads until `buffer` is full or the input ends; returns the bytes read.
    public mutating func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }
}

/// An in-memory submission, for tests and small inputs.
public struct ArraySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    /// Reads from `bytes`.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = Swift.min(buffer.count, bytes.count - offset)
        if n > 0 {
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
        }
        offset += n
        return n
    }
}

/// A source that hands every byte it reads to `copy` as well, in order: a file can be copied
/// and authenticated in one pass, so the copy is exactly the bytes that were checked (a file
/// that changes between two reads cannot slip through).
public struct CopyingSource<Base: ByteSource>: ByteSource {
    private var base: Base
    private let copy: (UnsafeRawBufferPointer) throws -> Void

    /// Reads from `base`, passing what it read to `copy` before returning it.
    public init(_ base: Base, copy: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.base = base
        self.copy = copy
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try base.read(into: buffer)
        if n > 0 { try copy(UnsafeRawBufferPointer(rebasing: buffer[..<n])) }
        return n
    }

    /// Reads and copies whatever is left, unchecked (to keep a file no key of ours can open).
    public mutating func copyRest() throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while try buffer.withUnsafeMutableBytes({ try read(into: $0) }) > 0 {}
    }
}
