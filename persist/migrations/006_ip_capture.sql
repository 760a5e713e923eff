-- How much of a client address a project keeps (actors.IPCapture): full
-- (the default: the render API document defines sourceIp as the client
-- address), truncated (IPv4 /24, IPv6 /48) or none. Applied at the edge to
-- events recorded from then on.
ALTER TABLE projects ADD COLUMN ip_capture text NOT NULL DEFAULT 'full'
	CHECK (ip_capture IN ('full', 'truncated', 'none'));
