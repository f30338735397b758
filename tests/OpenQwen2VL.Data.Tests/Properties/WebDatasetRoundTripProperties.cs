using CsCheck;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Properties;

/// <summary>
/// WebDatasetWriter then WebDatasetReader gives back every sample's key and members (extension to bytes), in order:
/// keys with folders, multi-dot extensions, non-ASCII names, empty members and sizes around tar's 512-byte blocks.
/// </summary>
public sealed class WebDatasetRoundTripProperties
{
    /// <summary>Sizes that end a member just before, on and after a 512-byte block boundary, and some others.</summary>
    private static readonly Gen<int> Size = Gen.Frequency(
        (3, Gen.Int[0, 3]),
        (4, Gen.Int[1, 4].SelectMany(k => Gen.Int[-2, 2].Select(d => 512 * k + d))),
        (2, Gen.Int[0, 3000]));

    private static readonly Gen<string> Key =
        from folder in Gen.Frequency((3, Gen.Const("")), (1, PropertyGen.Name(1, 6).Select(f => f + "/")))
        from basename in PropertyGen.Name(1, 20)
        select folder + basename;

    private static readonly Gen<string> Extension =
        PropertyGen.Name(1, 4).Array[1, 3].Select(parts => string.Join('.', parts)); // "jpg", "img000.jpg"

    private static readonly Gen<List<(string Key, Dictionary<string, byte[]> Members)>> Shard =
        Gen.Dictionary(Key, Gen.Dictionary(Extension, Size.SelectMany(s => Gen.Byte.Array[s]))[1, 4])[0, 6]
            .Select(d => d.Select(kv => (kv.Key, kv.Value)).ToList());

    [Fact]
    public void WhatIsWrittenIsReadBack()
    {
        using var dir = new TempDir();
        int n = 0;
        Shard.Sample(samples =>
        {
            var path = dir.File($"{Interlocked.Increment(ref n)}.tar");
            using (var w = new WebDatasetWriter(path))
                foreach (var (key, members) in samples)
                    w.Write(key, members.ToDictionary(m => m.Key, m => (ReadOnlyMemory<byte>)m.Value));
            var stats = new SkipStats();
            var read = WebDatasetReader.Read(path, stats).ToList();
            Assert.Equal(samples.Select(s => s.Key), read.Select(r => r.Key));
            for (int i = 0; i < samples.Count; i++)
            {
                Assert.Equal(samples[i].Members.Keys.Order(StringComparer.Ordinal), read[i].Members.Keys.Order(StringComparer.Ordinal));
                foreach (var (ext, bytes) in samples[i].Members) Assert.Equal(bytes, read[i].Members[ext]);
            }
            Assert.Equal(samples.Count, stats.Input);
            Assert.Equal(0, stats.SkippedTotal);
            File.Delete(path);
        }, iter: PropertyGen.Iterations);
    }
}
