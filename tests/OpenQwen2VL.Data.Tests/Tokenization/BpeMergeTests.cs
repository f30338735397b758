using System.Text;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>The merge loops in use (rank array for short words, heap for long ones) against the textbook scan, on the fixture's merges.</summary>
public class BpeMergeTests
{
    [Fact]
    public void RankArrayHeapAndScanMergeIdentically()
    {
        var model = BpeTokenizer.Load(ReferenceFixtures.File("tokenizer.json")).Model;
        // Words made of the vocabulary's own pieces, so that many merges apply and compete.
        var pieces = model.Vocab.Keys.Where(k => k.Length <= 4).ToArray();
        var rng = new Random(3);
        for (int trial = 0; trial < 400; trial++)
        {
            var sb = new StringBuilder();
            int len = rng.Next(1, 3 * BpeModel.HeapThreshold);
            while (sb.Length < len) sb.Append(pieces[rng.Next(pieces.Length)]);
            int[] initial = [.. sb.ToString().Select(c => model.ByteIds[ByteLevelAlphabet.ToByte(c)])];
            int[] scan = (int[])initial.Clone(), heap = (int[])initial.Clone(), ranks = (int[])initial.Clone();
            int nScan = model.MergeByScan(scan), nHeap = model.MergeWithHeap(heap), nRanks = model.MergeWithRankArray(ranks);
            Assert.Equal(scan[..nScan], heap[..nHeap]);
            Assert.Equal(scan[..nScan], ranks[..nRanks]);
        }
    }
}
