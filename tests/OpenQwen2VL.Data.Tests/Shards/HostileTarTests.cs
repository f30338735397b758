using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Tests.Shards;

/// <summary>Issue 16: tar shards from the internet: headers claiming gigabytes, oversized members, unsafe member names.</summary>
public class HostileTarTests
{
    private static Dictionary<string, ReadOnlyMemory<byte>> Sample(int i) => new()
    {
        ["jpg"] = Enumerable.Range(0, 700).Select(b => (byte)(b * 3 + i + 1)).ToArray(),
        ["txt"] = Encoding.UTF8.GetBytes($"caption {i}"),
    };

    private const long ThreeGiB = 3L << 30;

    /// <summary>What follows three good samples: a metadata header System.Formats.Tar refuses with InvalidOperationException.</summary>
    public static TheoryData<string, char, bool> HugeMetadataHeaders => new()
    {
        { "PaxHeaders/k3.jpg", 'x', false }, // PAX extended attributes
        { "PaxHeaders/global", 'g', false }, // PAX global attributes
        { "././@LongLink", 'L', true },      // GNU long name
        { "././@LongLink", 'K', true },      // GNU long link name
    };

    [Theory]
    [MemberData(nameof(HugeMetadataHeaders))]
    public void AMetadataHeaderClaimingGigabytesIsACountedCorruptShard(string name, char type, bool gnu)
    {
        using var dir = new TempDir();
        var shard = dir.File("00000.tar");
        File.WriteAllBytes(shard, CraftedTar.Concat(
            CraftedTar.GoodSamplesOpenEnded(dir.Path, 3, Sample), CraftedTar.Header(name, type, ThreeGiB, gnu), new byte[4096]));

        Assert.Throws<InvalidOperationException>(() => // what System.Formats.Tar does with it, and what ended whole jobs
        {
            using var raw = new TarReader(File.OpenRead(shard));
            while (raw.GetNextEntry() is not null) { }
        });
        var stats = new SkipStats();
        var read = WebDatasetReader.Read(shard, stats).ToList();
        foreach (var _ in read) stats.Keep();

        Assert.Equal(["k0", "k1", "k2"], read.Select(s => s.Key));
        Assert.Equal(1, stats.Skipped[WebDatasetReader.CorruptTar]);
        Assert.Equal(4, stats.Input);
        Assert.True(stats.IsBalanced);
        Assert.StartsWith("corrupt", stats.DamagedShards[shard]);
    }

    [Fact]
    public void ARegularMemberClaimingGigabytesIsSkippedWithoutBeingRead()
    {
        using var dir = new TempDir();
        var shard = dir.File("00000.tar");
        // A GNU base-256 size of 3 GiB and of 9 GiB (past the octal field's range), each followed by a little data only.
        foreach (long size in new[] { ThreeGiB, 9L << 30 })
        {
            File.WriteAllBytes(shard, CraftedTar.Concat(
                CraftedTar.GoodSamplesOpenEnded(dir.Path, 2, Sample), CraftedTar.Header("big.jpg", '0', size, gnu: true), new byte[2048]));
            var stats = new SkipStats();
            long before = GC.GetAllocatedBytesForCurrentThread();
            var read = WebDatasetReader.Read(shard, stats).ToList();
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
            foreach (var _ in read) stats.Keep();
            Assert.Equal(["k0", "k1"], read.Select(s => s.Key));
            Assert.Equal(1, stats.Skipped[WebDatasetReader.MemberTooLarge]);
            Assert.Equal(3, stats.Input);
            Assert.True(stats.IsBalanced);
        }
    }

    [Fact]
    public void MembersOverTheCapAreSkippedAndTheShardGoesOn()
    {
        using var dir = new TempDir();
        var shard = dir.File("00000.tar");
        using (var w = new WebDatasetWriter(shard))
        {
            w.Write("small0", Sample(0));
            w.Write("big", new Dictionary<string, ReadOnlyMemory<byte>> { ["txt"] = "x"u8.ToArray(), ["jpg"] = new byte[5000] });
            w.Write("small1", Sample(1));
        }
        var stats = new SkipStats();
        var read = WebDatasetReader.Read(shard, stats, maxMemberBytes: 1000).ToList();
        foreach (var _ in read) stats.Keep();
        Assert.Equal(["small0", "small1"], read.Select(s => s.Key));
        Assert.Equal(1, stats.Skipped[WebDatasetReader.MemberTooLarge]);
        Assert.True(stats.IsBalanced);
        Assert.Empty(stats.DamagedShards);
        Assert.Equal(64L << 20, WebDatasetReader.DefaultMaxMemberBytes);
    }

    [Fact]
    public void AMemberCutShortIsFoundBeforeItsClaimedSizeIsAllocated()
    {
        using var dir = new TempDir();
        var shard = dir.File("00000.tar");
        // Claims 60 MiB (under the cap) but holds 100 bytes.
        File.WriteAllBytes(shard, CraftedTar.Concat(
            CraftedTar.GoodSamplesOpenEnded(dir.Path, 1, Sample), CraftedTar.Header("cut.jpg", '0', 60L << 20), new byte[100]));
        var stats = new SkipStats();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var read = WebDatasetReader.Read(shard, stats).ToList();
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
        foreach (var _ in read) stats.Keep();
        Assert.Equal(["k0"], read.Select(s => s.Key));
        Assert.Equal(1, stats.Skipped[WebDatasetReader.TruncatedTar]);
        Assert.True(stats.IsBalanced);
    }

    [Fact]
    public void UnsafeMemberNamesAreCountedSkipsAndNeverReachACaller()
    {
        using var dir = new TempDir();
        var shard = dir.File("00000.tar");
        // "" and "dir/": members named ".jpg" or "dir/.jpg" have no key (found by fuzzing: fuzz/regressions/tar/).
        string[] unsafeKeys = ["../../x", "/abs/x", "a/../../x", "bell\u0007", "C:\\x", "", "dir/"];
        using (var fs = File.Create(shard))
        using (var tar = new TarWriter(fs, TarEntryFormat.Pax))
        {
            void Member(string name, string text) =>
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)) });
            Member("ok0.txt", "fine");
            foreach (var k in unsafeKeys)
            {
                Member(k + ".jpg", "img");
                Member(k + ".txt", "caption");
            }
            Member("dir/ok1.txt", "fine"); // folders inside a key are fine
            Member("./ok2.txt", "fine");
        }
        var stats = new SkipStats();
        var read = WebDatasetReader.Read(shard, stats).ToList();
        foreach (var _ in read) stats.Keep();
        Assert.Equal(["ok0", "dir/ok1", "./ok2"], read.Select(s => s.Key));
        Assert.Equal(unsafeKeys.Length, stats.Skipped[SampleKeys.UnsafeKey]);
        Assert.Equal(3 + unsafeKeys.Length, stats.Input);
        Assert.True(stats.IsBalanced);
    }

    [Theory]
    [InlineData("../../x")]
    [InlineData("/abs/x")]
    [InlineData("a/../x")]
    [InlineData("new\nline")]
    [InlineData("..")]
    [InlineData("dir/")]
    public void TheWriterRefusesUnsafeKeys(string key)
    {
        using var dir = new TempDir();
        var path = dir.File("00000.tar");
        using (var w = new WebDatasetWriter(path))
        {
            var e = Assert.Throws<ArgumentException>(() => w.Write(key, Sample(0)));
            Assert.Contains("unsafe", e.Message);
            Assert.Equal(0, w.SampleCount);
            w.Write("fine", Sample(1));
        }
        Assert.Equal(["fine"], WebDatasetReader.Read(path).Select(s => s.Key));
    }

    [Fact]
    public void UnsafeExtensionsAreRefusedToo()
    {
        using var dir = new TempDir();
        using var w = new WebDatasetWriter(dir.File("00000.tar"));
        Assert.Throws<ArgumentException>(() => w.Write("k", new Dictionary<string, ReadOnlyMemory<byte>> { ["jp\u001bg"] = new byte[3] }));
    }

    [Fact]
    public async Task AFifoOrADirectoryAsAShardIsNeverOpened()
    {
        if (!OperatingSystem.IsLinux()) return; // mkfifo
        using var dir = new TempDir();
        var fifo = dir.File("fifo.tar");
        Assert.Equal(0, Mkfifo(fifo, 0b110_000_000));
        Directory.CreateDirectory(dir.File("folder.tar"));
        var stats = new SkipStats();
        var read = await Task.Run(() => WebDatasetReader.Read(fifo, stats).Concat(WebDatasetReader.Read(dir.File("folder.tar"), stats)).ToList())
            .WaitAsync(TimeSpan.FromSeconds(20)); // a TimeoutException if reading the FIFO blocks
        Assert.Empty(read);
        Assert.Equal(0, stats.Input);
        Assert.Equal("not_a_file", stats.DamagedShards[dir.File("folder.tar")]);
    }

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int Mkfifo(string path, uint mode);
}
