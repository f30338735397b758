using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Tests.Tokenization;

/// <summary>The word cache against a plain dictionary: same answers, bounded, first entry kept, safe under concurrent adds.</summary>
public class WordIdCacheTests
{
    [Fact]
    public void AnswersLikeADictionaryThroughGrowthAndStopsAtItsCapacity()
    {
        var rng = new Random(41);
        const int capacity = 3000;  // several doublings of the slots and the arena
        var cache = new WordIdCache(capacity);
        var reference = new Dictionary<string, int[]>(StringComparer.Ordinal);
        for (int i = 0; i < 20_000; i++)
        {
            string word = RandomWord(rng);
            int[] ids = [.. Enumerable.Range(0, rng.Next(0, 9)).Select(_ => rng.Next())];
            var found = new List<int> { -1 };
            bool hit = cache.TryAppend(word, found);
            Assert.Equal(reference.TryGetValue(word, out var expected), hit);
            if (hit) Assert.Equal([-1, .. expected!], found);
            else Assert.Equal([-1], found);
            cache.TryAdd(word, ids);
            if (reference.Count < capacity) reference.TryAdd(word, ids);  // an existing entry is kept, not replaced
        }
        Assert.Equal(capacity, reference.Count);
        Assert.Equal(capacity, cache.Count);
    }

    [Fact]
    public void ConcurrentAddsAndReadsSeeOnlyWholeEntries()
    {
        var words = Enumerable.Range(0, 4000).Select(i => $"w{i}x{new string('y', i % 37)}").ToArray();
        int[] IdsOf(int i) => [.. Enumerable.Range(i, i % 7)];
        var cache = new WordIdCache(100_000);
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, worker =>
        {
            var found = new List<int>();
            for (int round = 0; round < 3; round++)
                for (int k = 0; k < words.Length; k++)
                {
                    int i = (k * (worker + 1) + round) % words.Length;
                    found.Clear();
                    if (cache.TryAppend(words[i], found)) Assert.Equal(IdsOf(i), found);
                    else cache.TryAdd(words[i], IdsOf(i));
                }
        });
        Assert.Equal(words.Length, cache.Count);
        var all = new List<int>();
        for (int i = 0; i < words.Length; i++) { all.Clear(); Assert.True(cache.TryAppend(words[i], all)); Assert.Equal(IdsOf(i), all); }
    }

    private static string RandomWord(Random rng)
    {
        const string alphabet = "ab cÉ東\u0301🙂";
        var chars = new char[rng.Next(1, 8)];
        for (int i = 0; i < chars.Length; i++) chars[i] = alphabet[rng.Next(alphabet.Length)];
        return new string(chars);
    }
}
