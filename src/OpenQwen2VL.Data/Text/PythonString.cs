namespace OpenQwen2VL.Data.Text;

/// <summary>
/// Python 3's notion of whitespace, where .NET differs: <c>str.isspace()</c> and <c>str.strip()</c> also count
/// U+001C..U+001F. Reference code strips messages and answers this way, so byte parity needs the same set.
/// </summary>
public static class PythonString
{
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    /// <summary><c>str.strip()</c> without arguments.</summary>
    public static string Strip(string s)
    {
        int start = 0, end = s.Length;
        while (start < end && IsSpace(s[start])) start++;
        while (end > start && IsSpace(s[end - 1])) end--;
        return s[start..end];
    }
}
