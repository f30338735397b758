using OpenQwen2VL.Curation.Scoring;

namespace OpenQwen2VL.Tests.Curation.Scoring;

/// <summary>
/// The expected values are what the reference filter's own parsing gives (Open-Qwen2VL apply_filter.py:
/// first line, <c>.strip(",").strip(";")</c>, <c>int()</c>), computed by running that code under CPython 3.11;
/// null where it raises ValueError. Values beyond a long are saturated on our side.
/// </summary>
public class MlmFilterScoreParserTests
{
    [Theory]
    [InlineData("85", 85L)]
    [InlineData("85\nThe caption matches the image.", 85L)]
    [InlineData(" 100 ", 100L)]
    [InlineData("0", 0L)]
    [InlineData("66.", null)]
    [InlineData("7\r\nreason", 7L)]
    [InlineData("85.", null)]
    [InlineData("85,", 85L)]
    [InlineData("0085", 85L)]
    [InlineData("+90", 90L)]
    [InlineData("1_00", 100L)]
    [InlineData("\uff18\uff15", 85L)]                 // full-width digits
    [InlineData("-5", -5L)]
    [InlineData("", null)]
    [InlineData("85\n70", 85L)]
    [InlineData(",;85;,", 85L)]
    [InlineData(";,85", null)]                        // strip(",") first, so the comma stays
    [InlineData("1__00", null)]
    [InlineData("_1", null)]
    [InlineData("1_", null)]
    [InlineData("+_1", null)]
    [InlineData("\u001c85", null)]                    // ASCII separators: str.isspace() but not int()'s spaces
    [InlineData("\u200b85", null)]                    // zero-width space is not a space
    [InlineData("\u3000 85\u2009", 85L)]              // Unicode spaces are
    [InlineData("\u0668\u0665", 85L)]                 // Arabic-Indic digits
    [InlineData("\U0001d7d6\U0001d7d3", 85L)]         // mathematical bold digits (surrogate pairs)
    [InlineData("85 is", null)]
    [InlineData("101", 101L)]                         // no range check in the reference
    [InlineData("1000", 1000L)]
    [InlineData("Score: 85", null)]
    [InlineData("85.5", null)]
    [InlineData("eighty", null)]
    [InlineData("\n85", null)]
    [InlineData("- 5", null)]
    [InlineData("\u221285", null)]                    // U+2212 minus sign is not a sign
    [InlineData("+-5", null)]
    [InlineData("99999999999999999999", long.MaxValue)]
    [InlineData("-99999999999999999999", long.MinValue)]
    [InlineData("\t\v\f85\r", 85L)]
    [InlineData("\u00a085\u0085", 85L)]
    [InlineData("8 5", null)]
    [InlineData("0x55", null)]
    [InlineData("85;", 85L)]
    [InlineData(";85", 85L)]
    [InlineData(",,85,,", 85L)]
    [InlineData(null, null)]
    public void ParsesAsTheReferenceFilter(string? output, long? expected)
    {
        bool parsed = MlmFilterScoreParser.TryParse(output, out long score);
        Assert.Equal(expected.HasValue, parsed);
        if (expected is long value) Assert.Equal(value, score);
    }
}
