using CsCheck;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Properties;

/// <summary>
/// The packed format (docs/packed-format.md) written the way <c>oqvl pack</c> writes it (a header preamble per shard,
/// then KEY.json and KEY.img000.EXT ...) and read by <see cref="PackedShardSource"/> gives back every pack's ids and
/// its images in order; the header and the sequence JSON round-trip field by field.
/// </summary>
public sealed class PackedFormatRoundTripProperties
{
    private sealed record Pack(PackedSequence Sequence, List<(string Ext, byte[] Bytes)> Images);

    private static readonly Gen<Pack> APack =
        from ids in Gen.Frequency((8, Gen.Int[0, 151_000]), (1, Gen.Const(CaptionSampleBuilder.ImageMarker))).Array[0, 40]
        from images in Gen.Select(Gen.OneOf("jpg", "png", "webp"), Gen.Byte.Array[1, 700])
            .Array[ids.Count(i => i == CaptionSampleBuilder.ImageMarker)]
        from lengths in Gen.Int[0, 4096].Array[0, 4]
        from uids in PropertyGen.Text(12).Array[lengths.Length]
        select new Pack(new PackedSequence { Ids = ids, SampleLengths = lengths, Uids = uids, ImageCount = images.Length }, [.. images]);

    private static readonly Gen<PackedHeader> AHeader =
        from capacity in Gen.Int[1, 1 << 20]
        from visual in Gen.Int[1, 1024]
        from fingerprint in PropertyGen.Text(20)
        from perShard in Gen.Bool
        from seed in Gen.Int
        select new PackedHeader { Capacity = capacity, VisualTokens = visual, TokenizerFingerprint = fingerprint, Packing = perShard ? "ffd-per-shard" : "ffd-global", Seed = seed };

    [Fact]
    public void WhatPackWritesThePackedReaderReadsBack()
    {
        using var dir = new TempDir();
        int n = 0;
        Gen.Select(AHeader, APack.Array[0, 5], Gen.Int[1, 3]).Sample((header, packs, perShard) =>
        {
            var outDir = dir.File($"{Interlocked.Increment(ref n)}");
            var headerBytes = header.ToJsonBytes();
            List<string> shards;
            using (var w = new ShardedWebDatasetWriter(outDir, "packed-{0:D5}.tar", perShard, _ => new Dictionary<string, ReadOnlyMemory<byte>> { ["json"] = headerBytes }))
            {
                for (int i = 0; i < packs.Length; i++)
                {
                    var members = new Dictionary<string, ReadOnlyMemory<byte>> { ["json"] = packs[i].Sequence.ToJsonBytes() };
                    for (int k = 0; k < packs[i].Images.Count; k++) members[PackedSequence.ImageMemberExtension(k, packs[i].Images[k].Ext)] = packs[i].Images[k].Bytes;
                    w.Write($"{i:D9}", members);
                }
                w.Complete();
                shards = [.. w.CompletedShards];
            }
            var stats = new SkipStats();
            var read = shards.SelectMany(s => new PackedShardSource().ReadShard(s, stats)).ToList();
            Assert.Equal(0, stats.SkippedTotal);
            Assert.Equal(packs.Length, read.Count);
            for (int i = 0; i < packs.Length; i++)
            {
                Assert.Equal(packs[i].Sequence.Ids, read[i].Ids);
                Assert.Equal(packs[i].Images.Select(m => m.Bytes), read[i].Images.Select(m => m.ToArray()));
                var seq = PackedSequence.Parse(packs[i].Sequence.ToJsonBytes());
                Assert.Equal(packs[i].Sequence.SampleLengths, seq.SampleLengths);
                Assert.Equal(packs[i].Sequence.Uids, seq.Uids);
                Assert.Equal(packs[i].Sequence.ImageCount, seq.ImageCount);
            }
            Assert.Equal(header, PackedHeader.Parse(headerBytes));
            Directory.Delete(outDir, recursive: true);
        }, iter: PropertyGen.Iterations);
    }
}
