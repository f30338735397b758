using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Tests.Evaluation;

public class VqaAccuracyTests
{
    private static string[] Refs(int matching, string answer = "red", string other = "blue") =>
        Enumerable.Repeat(answer, matching).Concat(Enumerable.Repeat(other, 10 - matching)).ToArray();

    // Leave-one-out averaging: with m of 10 matching, m subsets see m-1 matches and 10-m subsets see m.
    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(1, 0.3)]                // (1*0 + 9*(1/3)) / 10
    [InlineData(2, 0.6)]                // (2*(1/3) + 8*(2/3)) / 10
    [InlineData(3, 0.9)]                // (3*(2/3) + 7*1) / 10
    [InlineData(4, 1.0)]                // every subset keeps >= 3 matches
    [InlineData(10, 1.0)]
    public void LeaveOneOutAverage(int matching, double expected) =>
        Assert.Equal(expected, VqaAccuracy.Score("red", Refs(matching)), 12);

    [Fact]
    public void BothSidesAreNormalisedOnlyWhenTheAnswersDisagree()
    {
        Assert.Equal(1.0, VqaAccuracy.Score("Three.", Refs(9, "3", "4")));
        Assert.Equal(0.9, VqaAccuracy.Score("3", Refs(3, "three", "four")), 12);
        // Unanimous answers: the official code compares the stripped strings as they are.
        Assert.Equal(0.0, VqaAccuracy.Score("Three.", Refs(10, "3")));
        Assert.Equal(1.0, VqaAccuracy.Score(" 3\t", Refs(10, "3")));
    }

    [Fact]
    public void MatchesANaiveSubsetEnumeration()
    {
        var rng = new Random(5);
        string[] vocab = ["red", "Red", "two", "2", "the cat", "cat", "blue."];
        for (int trial = 0; trial < 300; trial++)
        {
            var refs = Enumerable.Range(0, rng.Next(1, 12)).Select(_ => vocab[rng.Next(vocab.Length)]).ToArray();
            string pred = vocab[rng.Next(vocab.Length)];
            Assert.Equal(Naive(pred, refs), VqaAccuracy.Score(pred, refs), 12);
        }
    }

    // Literal reading of the definition: build every leave-one-annotator-out subset as its own list; normalise
    // only when the stripped answers are not all the same.
    private static double Naive(string pred, string[] refs)
    {
        bool unanimous = refs.Select(r => r.Trim()).Distinct().Count() == 1;
        Func<string, string> norm = unanimous ? r => r.Trim() : VqaAnswerNormalizer.Normalize;
        string p = norm(pred);
        var scores = new List<double>();
        for (int leftOut = 0; leftOut < refs.Length; leftOut++)
        {
            var subset = refs.Where((_, i) => i != leftOut).Select(norm).ToList();
            scores.Add(Math.Min(1.0, subset.Count(a => a == p) / 3.0));
        }
        return scores.Average();
    }

    [Theory]
    [InlineData("Two", "2")]
    [InlineData("none", "0")]
    [InlineData("the dog", "dog")]
    [InlineData("An apple.", "apple")]
    [InlineData("Yes!", "yes")]                 // no space next to '!': it becomes a space, then whitespace is collapsed
    [InlineData("left-hand", "left hand")]      // same rule for '-'
    [InlineData("black - white", "black white")] // '-' next to a space is deleted
    [InlineData("3,000", "3000")]               // a digit,digit comma deletes all punctuation
    [InlineData("2.5", "2.5")]                  // a period before a digit stays
    [InlineData("dont", "don't")]
    [InlineData("isnt it", "isn't it")]
    [InlineData("Im", "im")]                    // the official table's capitalised keys never match
    [InlineData("  on\tthe\nleft ", "on left")]
    public void NormalisationExamples(string raw, string expected) =>
        Assert.Equal(expected, VqaAnswerNormalizer.Normalize(raw));
}
