using OpenQwen2VL.Synthetic;
using System.Formats.Tar;
using System.Text;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Tests.Shards;

public class WebDatasetRoundTripTests
{
    private static Dictionary<string, ReadOnlyMemory<byte>> Sample(int i, int imageBytes) => new()
    {
        ["jpg"] = Enumerable.Range(0, imageBytes).Select(b => (byte)(b * 7 + i)).ToArray(),
        ["txt"] = Encoding.UTF8.GetBytes($"caption {i} ü"),
        ["json"] = Encoding.UTF8.GetBytes($"{{\"uid\":\"u{i}\"}}"),
    };

    /// <summary>
    /// Samples from two sources may repeat a key (both numbered from 0): written one after the other into one tar they
    /// would read back as one sample, so the sharded writer starts a new shard there and every sample comes back whole.
    /// </summary>
    [Fact]
    public void ARepeatedKeyNextToItselfStartsANewShardAndNoSampleMerges()
    {
        using var dir = new TempDir();
        string[] keys = ["000000000", "000000001", "000000001", "000000002", "000000002", "000000002", "000000003"];
        using (var w = new ShardedWebDatasetWriter(dir.Path, maxSamplesPerShard: 10))
            for (int i = 0; i < keys.Length; i++) w.Write(keys[i], Sample(i, 50 + i));
        var read = Directory.GetFiles(dir.Path, "*.tar").Order().SelectMany(f => WebDatasetReader.Read(f)).ToList();
        Assert.Equal(keys, read.Select(r => r.Key));
        for (int i = 0; i < keys.Length; i++) Assert.Equal(Sample(i, 50 + i)["jpg"].ToArray(), read[i].Members["jpg"]);
        Assert.Equal(4, Directory.GetFiles(dir.Path, "*.tar").Length);
    }

    [Fact]
    public void WriteThenReadGivesTheSameSamples()
    {
        using var dir = new TempDir();
        var path = dir.File("00000.tar");
        using (var w = new WebDatasetWriter(path))
        {
            for (int i = 0; i < 20; i++) w.Write($"{i:D9}", Sample(i, 100 + 37 * i));
            Assert.False(File.Exists(path)); // published only on completion
        }
        Assert.True(File.Exists(path));
        Assert.False(File.Exists(AtomicFile.TempPathFor(path)));

        var stats = new SkipStats();
        var read = WebDatasetReader.Read(path, stats).ToList();
        Assert.Equal(20, read.Count);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal($"{i:D9}", read[i].Key);
            Assert.Equal(path, read[i].ShardPath);
            var expected = Sample(i, 100 + 37 * i);
            Assert.Equal(expected.Keys.Order(), read[i].Members.Keys.Order());
            foreach (var (ext, bytes) in expected) Assert.Equal(bytes.ToArray(), read[i].Members[ext]);
        }
        Assert.Equal(20, stats.Input);
    }

    [Fact]
    public void KeysSplitAtTheFirstDotOfTheBasename()
    {
        Assert.Equal(("a/b.c/000001", "img000.jpg"), WebDatasetSample.SplitName("a/b.c/000001.img000.jpg"));
        Assert.Equal(("k", ""), WebDatasetSample.SplitName("k"));
    }

    [Fact]
    public void ShardedWriterRollsOverAndWritesPreambles()
    {
        using var dir = new TempDir();
        using (var w = new ShardedWebDatasetWriter(dir.Path, "part-{0:D3}.tar", 4,
                   _ => new Dictionary<string, ReadOnlyMemory<byte>> { ["json"] = "{}"u8.ToArray() }))
        {
            for (int i = 0; i < 10; i++) w.Write($"s{i}", Sample(i, 10));
            w.Complete();
            Assert.Equal([4, 4, 2], w.SamplesPerShard);
        }
        var files = Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["part-000.tar", "part-001.tar", "part-002.tar"], files);
        var keys = files.SelectMany(f => WebDatasetReader.Read(dir.File(f!))).Select(s => s.Key).ToList();
        Assert.Equal(13, keys.Count);
        Assert.Equal(3, keys.Count(k => k == "__header__"));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"s{i}"), keys.Where(k => k != "__header__"));
    }

    [Fact]
    public void EmptyAndMissingShardsYieldNothing()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("empty.tar"), []);
        using (new WebDatasetWriter(dir.File("no-samples.tar"))) { }
        var stats = new SkipStats();
        Assert.Empty(WebDatasetReader.Read(dir.File("empty.tar"), stats));
        Assert.Empty(WebDatasetReader.Read(dir.File("no-samples.tar"), stats));
        Assert.Empty(WebDatasetReader.Read(dir.File("missing.tar"), stats));
        Assert.Equal(0, stats.Input);
        Assert.Equal("missing", stats.DamagedShards[dir.File("missing.tar")]);
    }

    [Fact]
    public void TruncatedTarKeepsTheSamplesBeforeTheDamage()
    {
        using var dir = new TempDir();
        var full = dir.File("full.tar");
        using (var w = new WebDatasetWriter(full))
            for (int i = 0; i < 10; i++) w.Write($"k{i}", Sample(i, 3000));
        var bytes = File.ReadAllBytes(full);

        // Find where sample k6's image data starts, and cut inside it.
        long cut = OffsetOfMemberData(full, "k6.jpg") + 1000;
        var truncated = dir.File("cut.tar");
        File.WriteAllBytes(truncated, bytes[..(int)cut]);
        var stats = new SkipStats();
        var read = WebDatasetReader.Read(truncated, stats).ToList();
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"k{i}"), read.Select(s => s.Key));
        foreach (var s in read) stats.Keep();
        Assert.Equal(7, stats.Input);
        Assert.Equal(1, stats.Skipped["truncated_tar"]);
        Assert.True(stats.IsBalanced);
        Assert.Contains(truncated, stats.DamagedShards.Keys);

        // Cut inside k6's caption: the members of k6 read before the damage are lost with it.
        long cutTxt = OffsetOfMemberData(full, "k6.txt") + 3;
        File.WriteAllBytes(truncated, bytes[..(int)cutTxt]);
        var stats2 = new SkipStats();
        Assert.Equal(6, WebDatasetReader.Read(truncated, stats2).Count());
        Assert.Equal(7, stats2.Input);

        // Cut inside a tar header: the samples before it are kept and nothing is invented.
        long cutHeader = OffsetOfMemberData(full, "k3.jpg") - 100;
        File.WriteAllBytes(truncated, bytes[..(int)cutHeader]);
        var stats3 = new SkipStats();
        var read3 = WebDatasetReader.Read(truncated, stats3).ToList();
        Assert.Equal(["k0", "k1", "k2"], read3.Select(s => s.Key));
        Assert.Equal(3, stats3.Input);
    }

    private static long OffsetOfMemberData(string tarPath, string member)
    {
        using var fs = File.OpenRead(tarPath);
        using var tar = new TarReader(fs);
        while (tar.GetNextEntry() is { } e)
            if (e.Name == member)
                return fs.Position - RoundUp512(e.Length);
        throw new InvalidOperationException(member);
    }

    private static long RoundUp512(long n) => (n + 511) / 512 * 512;
}

public class WebDatasetOffsetTests
{
    [Fact]
    public void MemberOffsetsPointAtTheMemberData()
    {
        using var dir = new TempDir();
        var path = SyntheticCaptionShards.Write(dir.Path, 1, 5, imageSide: 20)[0];
        var file = File.ReadAllBytes(path);
        foreach (var s in WebDatasetReader.Read(path))
            foreach (var (ext, bytes) in s.Members)
                Assert.Equal(bytes, file.AsSpan((int)s.MemberOffsets![ext], bytes.Length).ToArray());
    }
}
