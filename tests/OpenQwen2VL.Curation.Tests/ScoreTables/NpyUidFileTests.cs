using System.Buffers.Binary;
using OpenQwen2VL.Curation.ScoreTables;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Curation.ScoreTables;

/// <summary>DataComp subset files written by the NumPy format specification (<see cref="CraftedNpy"/>), then read back.</summary>
public sealed class NpyUidFileTests
{
    private const string Records = CraftedNpy.UidRecords;

    private static byte[] Npy(string descr, string shape, IEnumerable<UInt128> uids, byte major = 1, string fortran = "False", int? dataBytes = null) =>
        CraftedNpy.Uids(descr, shape, uids, major, fortran, dataBytes);

    internal static UInt128[] SomeUids(int n) =>
        [.. Enumerable.Range(0, n).Select(i => new UInt128((ulong)i * 0x9E3779B97F4A7C15UL, ulong.MaxValue - (ulong)i))];

    [Theory]
    [InlineData(Records, 1)]
    [InlineData(Records, 2)]
    [InlineData(Records, 3)]
    [InlineData("'<u8'", 1)]
    public void BothLayoutsReadBackAsUpperTimesTwoTo64PlusLower(string descr, byte major)
    {
        using var tmp = new TempDir();
        var uids = SomeUids(5000); // more than one read chunk
        string shape = descr == Records ? $"({uids.Length},)" : $"({uids.Length}, 2)";
        File.WriteAllBytes(tmp.File("subset.npy"), Npy(descr, shape, uids, major));
        var read = new List<UInt128>();
        Assert.Equal(uids.Length, NpyUidFile.Read(tmp.File("subset.npy"), read.Add));
        Assert.Equal(uids, read);
        // The hex spelling of a DataComp uid is the same number.
        Assert.Equal(uids[7], SampleUid.Key(SampleUid.ToHex(uids[7])));
        Assert.Equal(uids[7], SampleUid.Key(SampleUid.ToHex(uids[7]).ToUpperInvariant()));
        Assert.Equal(new UInt128(1, 2), SampleUid.Key("00000000000000010000000000000002"));
    }

    [Fact]
    public void AnEmptySubsetIsFine()
    {
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("e.npy"), Npy(Records, "(0,)", []));
        Assert.Equal(0, NpyUidFile.Read(tmp.File("e.npy"), _ => Assert.Fail("no uids")));
    }

    public static TheoryData<string, byte[], string> Hostile()
    {
        var uids = SomeUids(4);
        var hugeHeader = Npy(Records, "(4,)", uids, major: 2);
        BinaryPrimitives.WriteUInt32LittleEndian(hugeHeader.AsSpan(8), 0x7FFF_FFFF);
        return new()
        {
            { "truncated", Npy(Records, "(4,)", uids, dataBytes: 40), "holds 40 bytes" },
            { "oversized shape", Npy(Records, "(1000000000000,)", uids), "claims 1000000000000 uids" },
            { "shape past long", Npy(Records, "(9223372036854775807,)", uids), "too many" },
            { "wrong dtype", Npy("'<u4'", "(4, 2)", uids), "dtype '<u4'" },
            { "big-endian", Npy("[('f0', '>u8'), ('f1', '>u8')]", "(4,)", uids), "is no uid array" },
            { "three fields", Npy("[('f0', '<u8'), ('f1', '<u8'), ('f2', '<u8')]", "(4,)", uids), "is no uid array" },
            { "fortran (N,2)", Npy("'<u8'", "(4, 2)", uids, fortran: "True"), "Fortran order" },
            { "(N,3)", Npy("'<u8'", "(4, 3)", uids), "is no uid array" },
            { "negative shape", Npy(Records, "(-4,)", uids), "not a tuple of sizes" },
            { "header past the end", hugeHeader, "claims 2147483647 bytes" },
            { "version 9", [.. Npy(Records, "(4,)", uids).Select((b, i) => i == 6 ? (byte)9 : b)], "version 9.0" },
            { "not npy", "PK\x03\x04 a zip"u8.ToArray(), "not a .npy file" },
            { "code in header", Npy("__import__('os')", "(4,)", uids), "not a NumPy header dict" },
        };
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public void AHostileFileIsRefusedInOneLineNamingIt(string what, byte[] bytes, string problem)
    {
        using var tmp = new TempDir();
        string path = tmp.File("bad.npy");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => NpyUidFile.Read(path, _ => { }));
        Assert.True(e.Message.Contains(problem) && e.Message.StartsWith(path) && !e.Message.Contains('\n'), $"{what}: {e.Message}");
    }

    [Fact]
    public void ATextListJoinsWithTheSameUidsAsTheNpy()
    {
        using var tmp = new TempDir();
        var uids = SomeUids(10);
        File.WriteAllBytes(tmp.File("a.npy"), Npy(Records, "(10,)", uids));
        File.WriteAllText(tmp.File("a.txt"), string.Join("\n", uids.Select(SampleUid.ToHex)) + "\n\n");
        Assert.Equal(UidListFile.Load(tmp.File("a.npy")).Order(), UidListFile.Load(tmp.File("a.txt")).Order());
        Assert.Equal(10, UidListFile.Load(tmp.File("a.txt")).Count);
    }
}
