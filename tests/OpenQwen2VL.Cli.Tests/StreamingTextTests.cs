using OpenQwen2VL.Cli.Serving;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// The streamed pieces of a completion concatenate to its whole text (cut before the first stop string), never show a
/// half-decoded character or a piece of a stop string that later matches.
/// </summary>
public sealed class StreamingTextTests
{
    // Each id decodes to a fixed piece; id 9 is the first half of a two-token character (U+FFFD alone, "é" with id 10).
    private static readonly string[] Pieces = ["Hel", "lo", " wor", "ld", "!", " S", "TO", "P", " end", "\uFFFD", "é"];

    private static string Decode(IReadOnlyList<long> ids)
    {
        var text = string.Concat(ids.Select(i => Pieces[i]));
        return text.Replace("\uFFFDé", "é", StringComparison.Ordinal);
    }

    private static (List<string> Pieces, string Final, bool Stopped) Stream(long[] ids, params string[] stops)
    {
        var text = new StreamingText(Decode, stops);
        var pieces = ids.Select(text.Add).ToList();
        pieces.Add(text.Finish());
        return (pieces, text.Text, text.Stopped);
    }

    [Theory]
    [InlineData(new long[] { 0, 1, 2, 3, 4 }, new string[0], "Hello world!", false)]
    [InlineData(new long[] { 0, 1, 2, 3, 5, 6, 7, 8 }, new[] { "STOP" }, "Hello world ", true)]
    [InlineData(new long[] { 0, 1, 2, 3, 5, 6, 8 }, new[] { "STOP" }, "Hello world STO end", false)]
    [InlineData(new long[] { 0, 1, 2, 3 }, new[] { "xyz", "o w" }, "Hell", true)]
    [InlineData(new long[] { 0, 9, 10, 4 }, new string[0], "Helé!", false)]
    public void PiecesConcatenateToTheCutText(long[] ids, string[] stops, string expected, bool stopped)
    {
        var (pieces, final, didStop) = Stream(ids, stops);
        Assert.Equal(expected, final);
        Assert.Equal(expected, string.Concat(pieces));
        Assert.Equal(stopped, didStop);
        Assert.All(pieces, p => Assert.DoesNotContain('\uFFFD', p));
    }

    [Fact]
    public void APossibleStopStringIsHeldBackUntilItCannotMatch()
    {
        var text = new StreamingText(Decode, ["STOP"]);
        Assert.Equal("Hel", text.Add(0));
        Assert.Equal(" ", text.Add(5)); // "S" could begin "STOP"
        Assert.Equal("", text.Add(6)); // nor can "STO" be shown yet
        Assert.Equal("STO end", text.Add(8));
        Assert.Equal("Hel STO end", text.Text);
    }
}
