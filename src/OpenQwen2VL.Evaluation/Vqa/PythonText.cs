using System.Globalization;
using System.Numerics;
using OpenQwen2VL.Data.Text;

namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// The few Python 3 string and number semantics the reference evaluators rely on, where .NET differs:
/// <c>str.strip()</c>/<c>str.split()</c> also treat U+001C..U+001F as whitespace, and <c>round(x, n)</c> rounds the
/// exact binary value half-to-even (not a scaled product, which can land on a false tie).
/// </summary>
public static class PythonText
{
    public static bool IsSpace(char c) => PythonString.IsSpace(c);

    public static string Strip(string s) => PythonString.Strip(s);

    /// <summary><c>str.split()</c> without arguments: runs of whitespace separate, no empty words.</summary>
    public static List<string> Split(string s)
    {
        var words = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            while (i < s.Length && IsSpace(s[i])) i++;
            int start = i;
            while (i < s.Length && !IsSpace(s[i])) i++;
            if (i > start) words.Add(s[start..i]);
        }
        return words;
    }

    /// <summary>Python 3 <c>round(x, digits)</c>: the exact value of <paramref name="x"/> rounded half-to-even at <paramref name="digits"/> decimals.</summary>
    public static double Round(double x, int digits)
    {
        if (!double.IsFinite(x) || digits < 0) return Math.Round(x, Math.Max(digits, 0), MidpointRounding.ToEven);
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(x));
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent++; else mantissa |= 1L << 52;
        exponent -= 1075; // |x| = mantissa * 2^exponent exactly
        BigInteger num = mantissa * BigInteger.Pow(10, digits), den = BigInteger.One;
        if (exponent >= 0) num <<= exponent; else den <<= -exponent;
        var q = BigInteger.DivRem(num, den, out var r);
        int cmp = (r * 2).CompareTo(den);
        if (cmp > 0 || (cmp == 0 && !q.IsEven)) q += 1;
        // q / 10^digits as a decimal string, parsed with correct rounding as Python does.
        string text = q.ToString(CultureInfo.InvariantCulture) + "e-" + digits.ToString(CultureInfo.InvariantCulture);
        double value = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return x < 0 ? -value : value;
    }
}
